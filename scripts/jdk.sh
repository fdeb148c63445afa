# Sourced by ./viommu, ./run-tests and .ci/run: sets VIOMMU_JAVA_HOME to a JDK >= 25.
# Order: $JAVA_HOME if it is one, else the newest JDK under /usr/lib/jvm.
viommu_jdk_major() {
  # Prints the feature version of the JDK at $1 (e.g. 25), or nothing.
  local rel="$1/release"
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  if [ -r "$rel" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"
  else
    "$1/bin/java" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'
  fi
}

viommu_find_jdk() {
  local need=25 best="" best_v=0 d v
  if [ -n "${JAVA_HOME:-}" ]; then
    v=$(viommu_jdk_major "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge "$need" ]; then VIOMMU_JAVA_HOME="$JAVA_HOME"; return 0; fi
  fi
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [ -L "$d" ] && continue
    v=$(viommu_jdk_major "$d")
    if [ -n "$v" ] && [ "$v" -ge "$need" ] && [ "$v" -gt "$best_v" ]; then best="$d"; best_v=$v; fi
  done
  if [ -z "$best" ]; then
    echo "viommu: no JDK $need or newer found (JAVA_HOME=${JAVA_HOME:-unset}; looked in /usr/lib/jvm)." >&2
    echo "viommu: install one, e.g. Temurin 25 under /usr/lib/jvm, or set JAVA_HOME to it." >&2
    return 1
  fi
  VIOMMU_JAVA_HOME="$best"
}
