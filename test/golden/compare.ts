/**
 * The golden tolerance rule (golden README §3): float tensors pass when
 * ||out − ref||₂ ≤ rel_l2·||ref||₂ + abs_l2; integer tensors match exactly, unless the tolerance
 * gives `max_abs_diff` and `max_mismatch_fraction` (the latent kinds' uint8 images): then every
 * element within ±max_abs_diff and at most that fraction of the elements different. The returned
 * `ratio` is the error as a fraction of what is allowed, so 1 is the edge of passing whatever the
 * tensor's scale.
 */
import type { StoredTensor } from '@diffq/networks';

export interface Tolerance {
  rel_l2: number;
  abs_l2?: number;
  /** Integer tensors: the largest |out − ref| allowed on any element (default 0). */
  max_abs_diff?: number;
  /** Integer tensors: the fraction of elements allowed to differ at all (default 0). */
  max_mismatch_fraction?: number;
}

export interface Comparison {
  name: string;
  ratio: number;
  detail: string;
}

/** value / allowed, where nothing allowed makes any error infinite. */
const fractionOf = (value: number, allowed: number) => (value === 0 ? 0 : allowed === 0 ? Number.POSITIVE_INFINITY : value / allowed);

function compareIntegers(name: string, ref: StoredTensor, out: ArrayLike<number> | BigInt64Array, tol: Tolerance): Comparison {
  let mismatches = 0;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < out.length; i++) {
    const d = Math.abs(Number(out[i]) - Number(ref.data[i]));
    if (Number.isNaN(d)) return { name, ratio: Number.POSITIVE_INFINITY, detail: `${name}[${i}] = ${out[i]}, reference ${ref.data[i]}` };
    if (d === 0) continue;
    mismatches++;
    if (d > worst) {
      worst = d;
      worstAt = i;
    }
  }
  if (mismatches === 0) return { name, ratio: 0, detail: `${name}: exact` };
  const fraction = mismatches / out.length;
  const ratio = Math.max(fractionOf(worst, tol.max_abs_diff ?? 0), fractionOf(fraction, tol.max_mismatch_fraction ?? 0));
  return {
    name,
    ratio,
    detail: `${name}: ${mismatches} of ${out.length} differ (${(100 * fraction).toFixed(3)} %), max |diff| ${worst} at [${worstAt}] (${out[worstAt]}, reference ${ref.data[worstAt]})`,
  };
}

export function compareTensor(name: string, ref: StoredTensor, out: ArrayLike<number> | BigInt64Array, tol: Tolerance): Comparison {
  if (out.length !== ref.data.length) {
    return {
      name,
      ratio: Number.POSITIVE_INFINITY,
      detail: `${name}: ${out.length} values, reference has ${ref.data.length} (shape [${ref.shape}])`,
    };
  }
  if (ref.dtype === 'I64' || ref.dtype === 'I32') return compareIntegers(name, ref, out, tol);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    const r = Number(ref.data[i]);
    const d = Number(out[i]) - r;
    diff += d * d;
    norm += r * r;
  }
  const allowed = tol.rel_l2 * Math.sqrt(norm) + (tol.abs_l2 ?? 0);
  const err = Math.sqrt(diff);
  const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : allowed === 0 ? (err === 0 ? 0 : Number.POSITIVE_INFINITY) : err / allowed;
  return { name, ratio, detail: `${name}: |err| ${err.toExponential(3)}, relative ${(err / Math.sqrt(norm)).toExponential(3)}` };
}
