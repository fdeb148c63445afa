/**
 * The kernel model's reading of ACPI tables: the DMAR table (struct acpi_table_dmar and its
 * remapping structures, as drivers/iommu/intel/dmar.c walks them) with its ACPI header, decoded
 * little-endian. Used by the kernel's boot and the intel-iommu driver, and by host tooling
 * reading a real machine's /sys/firmware/acpi/tables.
 */
package io.viommu.linux.acpi;
