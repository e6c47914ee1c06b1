/**
 * The golden tolerance rule: integer tensors match exactly; float tensors pass when
 * ||out − ref||₂ ≤ rel_l2·||ref||₂ + abs_l2. The returned `ratio` is the error as a fraction of what
 * is allowed, so 1 is the edge of passing whatever the tensor's scale.
 */
import type { StoredTensor } from '@diffq/networks';

export interface Comparison {
  name: string;
  ratio: number;
  detail: string;
}

export function compareTensor(
  name: string,
  ref: StoredTensor,
  out: ArrayLike<number> | BigInt64Array,
  rel: number,
  abs: number,
): Comparison {
  if (out.length !== ref.data.length) {
    return {
      name,
      ratio: Number.POSITIVE_INFINITY,
      detail: `${name}: ${out.length} values, reference has ${ref.data.length} (shape [${ref.shape}])`,
    };
  }
  if (ref.dtype === 'I64' || ref.dtype === 'I32') {
    for (let i = 0; i < out.length; i++) {
      if (Number(out[i]) !== Number(ref.data[i])) {
        return { name, ratio: Number.POSITIVE_INFINITY, detail: `${name}[${i}] = ${out[i]}, reference ${ref.data[i]}` };
      }
    }
    return { name, ratio: 0, detail: `${name}: exact` };
  }
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    const r = Number(ref.data[i]);
    const d = Number(out[i]) - r;
    diff += d * d;
    norm += r * r;
  }
  const allowed = rel * Math.sqrt(norm) + abs;
  const err = Math.sqrt(diff);
  const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : allowed === 0 ? (err === 0 ? 0 : Number.POSITIVE_INFINITY) : err / allowed;
  return { name, ratio, detail: `${name}: |err| ${err.toExponential(3)}, relative ${(err / Math.sqrt(norm)).toExponential(3)}` };
}
