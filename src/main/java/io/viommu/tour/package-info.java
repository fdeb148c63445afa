/**
 * {@code viommu tour}: the seeds' walkthroughs run end to end on model hosts (DESIGN.md layers:
 * above {@code host}, whose model host, report and topology drawing it uses, and {@code vmm},
 * whose VMM and VM runs it drives; below {@code cli}). Each {@link io.viommu.tour.TourStep} types
 * the commands a person would type into a model host's shell, starts the VMs they would start, and
 * records what the model printed and whether that is what the walkthrough promises
 * ({@link io.viommu.tour.StepLog}); nothing in a transcript is stored text.
 */
package io.viommu.tour;
