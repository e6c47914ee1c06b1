/**
 * Class labels of a class-conditional run, a function of the seed only (docs/design.md#one-seed-one-image):
 * - `random`:   ⌊u(a)·K⌋, a = word 0 of Philox at counter (0, 2^32−1, 0, 0) under the seed's key
 *               (a stream of its own, so labels never share numbers with the noise);
 * - `balanced`: seed mod K, every class equally often over consecutive seeds;
 * - `fixed`:    class k for every seed.
 */
import { LABEL_STREAM } from './normals.ts';
import { checkSeed, philox4x32, seedKey, wordToUniform } from './philox.ts';

export type LabelPolicy = { kind: 'random' } | { kind: 'balanced' } | { kind: 'fixed'; label: number };

export class LabelPolicyError extends RangeError {
  override name = 'LabelPolicyError';
}

function checkNumClasses(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 2 ** 31 - 1) {
    throw new LabelPolicyError(`number of classes is ${numClasses}; accepted: an integer in [1, ${2 ** 31 - 1}]`);
  }
}

/** Throws, naming the value and the accepted range, unless `policy` can label a model of `numClasses` classes. */
export function checkLabelPolicy(policy: LabelPolicy, numClasses: number): void {
  checkNumClasses(numClasses);
  switch (policy.kind) {
    case 'random':
    case 'balanced':
      return;
    case 'fixed':
      if (!Number.isInteger(policy.label) || policy.label < 0 || policy.label >= numClasses) {
        throw new LabelPolicyError(
          `fixed label is ${policy.label}; accepted: an integer in [0, ${numClasses - 1}] (the model has ${numClasses} classes)`,
        );
      }
      return;
    default:
      throw new LabelPolicyError(
        `label policy is ${JSON.stringify((policy as { kind: unknown }).kind)}; accepted: "random", "balanced" or "fixed"`,
      );
  }
}

/** The `random` policy's label of a seed: ⌊u(a)·K⌋. */
export function randomLabel(seed: number, numClasses: number): number {
  checkNumClasses(numClasses);
  const [k0, k1] = seedKey(seed);
  const [a] = philox4x32(0, LABEL_STREAM, 0, 0, k0, k1);
  return Math.floor(wordToUniform(a) * numClasses);
}

/** The label `policy` gives `seed` among `numClasses` classes. */
export function labelFor(policy: LabelPolicy, seed: number, numClasses: number): number {
  checkLabelPolicy(policy, numClasses);
  checkSeed(seed);
  switch (policy.kind) {
    case 'random':
      return randomLabel(seed, numClasses);
    case 'balanced':
      return seed % numClasses;
    case 'fixed':
      return policy.label;
  }
}

/** Labels of a list of seeds, [N] int32 (what a class-conditional network takes as y). */
export function labelsFor(policy: LabelPolicy, seeds: readonly number[], numClasses: number): Int32Array {
  checkLabelPolicy(policy, numClasses);
  return Int32Array.from(seeds, (seed) => labelFor(policy, seed, numClasses));
}
