package io.viommu.host;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The journal of {@code host apply}: JSON lines, one record appended (and synced to disk) before
 * each step is done, so that whatever happens to the process, the file says what may have been
 * changed and what it was before. Records ({@code "kind"}):
 * <ul>
 * <li>{@code begin}: schema, the host's identity, the plan's devices;</li>
 * <li>{@code step}: n, op, device, path, value, before (and the interfaces an unbind takes down);</li>
 * <li>{@code done}: n and what reading back showed;</li>
 * <li>{@code undone}: n, written when a step's inverse was done (rollback or undo);</li>
 * <li>{@code end}: "applied" or "rolled back".</li>
 * </ul>
 */
public final class HostJournal {
    public static final String SCHEMA = "viommu.host-journal/1";
    static final ObjectMapper JSON = JsonMapper.builder().build();

    private final Path file;

    private HostJournal(Path file) {
        this.file = file;
    }

    /** A new journal; the file must not exist (an old journal is never overwritten). */
    public static HostJournal create(Path file) throws IOException {
        Files.write(file, new byte[0], StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new HostJournal(file);
    }

    /** An existing journal, to append to (undo). */
    public static HostJournal open(Path file) {
        return new HostJournal(file);
    }

    public Path file() {
        return file;
    }

    public static ObjectNode record(String kind) {
        ObjectNode n = JSON.createObjectNode();
        n.put("kind", kind);
        return n;
    }

    /** Appends one record and syncs it to disk before returning. */
    public void append(ObjectNode record) {
        try {
            Files.writeString(file, JSON.writeValueAsString(record) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.APPEND, StandardOpenOption.DSYNC);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a journal record", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every record of a journal file; a line that is not JSON ends the read with a clear message. */
    public static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        int n = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            n++;
            if (line.isBlank()) {
                continue;
            }
            try {
                out.add(JSON.readTree(line));
            } catch (JsonProcessingException e) {
                throw new IOException(file + " line " + n + ": not a journal record (" + e.getOriginalMessage() + ")");
            }
        }
        return out;
    }
}
