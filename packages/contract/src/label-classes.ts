/**
 * How many classes a run's labels are drawn from. A model trained for classifier-free guidance
 * reserves one label index for "no class" (model.json guidance.null_label, the last index by
 * convention); a sample must never be asked for it, so policies draw from the indices below it.
 */
export function drawableClasses(facts: { numClasses: number | null; nullLabel: number | null }): number | null {
  return facts.nullLabel !== null ? facts.nullLabel : facts.numClasses;
}
