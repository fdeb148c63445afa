/**
 * {@code viommu fleet}: many hosts' snapshots ({@code viommu host snapshot}, or trees exported from
 * model hosts) checked with the one-host tooling of {@code io.viommu.host}, summed up for the fleet,
 * and handed to the engines that assign devices across machines (KubeVirt, the SR-IOV network
 * device plugin, OpenStack Nova) as their own configuration. Sits above {@code host}, below {@code cli}.
 */
package io.viommu.fleet;
