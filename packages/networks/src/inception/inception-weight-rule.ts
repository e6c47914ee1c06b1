/**
 * The seeded weights of the `inception_features` golden cases (test/golden/cases/README.md, section
 * "Weight rule"): a full-size FID Inception state_dict without the 95 MB file, for parity tests and
 * benchmarks. Tensor i of the state_dict takes z = the first n normals of seed (weightSeed + i),
 * stream 0 (the x_T draw of a [1, n, 1, 1] batch), in float64, element e = normal e in C order, and a
 * transform by role evaluated in float64 and rounded once to float32. The roles keep activations
 * at a root mean square of about 0.25–0.7 through the whole network.
 */
import { fillNormals } from '@diffq/diffusion';
import type { StoredTensor } from '../weights/safetensors.ts';
import { inceptionParamSpecs } from './inception-v3.ts';

const SPECS = inceptionParamSpecs();

/** The transform of a normal z by the role its key's suffix names. */
function roleOf(key: string, shape: readonly number[]): (z: number) => number {
  if (key.endsWith('.conv.weight')) {
    const gain = Math.sqrt(2 / (shape[1] * shape[2] * shape[3]));
    return (z) => z * gain;
  }
  if (key.endsWith('.bn.weight')) return (z) => 1 + 0.1 * z;
  if (key.endsWith('.bn.running_var')) return (z) => 1 + 0.25 * z * z;
  if (key.endsWith('.bn.bias') || key.endsWith('.bn.running_mean')) return (z) => 0.1 * z;
  if (key === 'fc.weight' || key === 'fc.bias') return (z) => 0.01 * z;
  throw new Error(`internal: no weight rule for ${key}`);
}

/** Tensor `index` of the rule (its key, shape and values); `z` is scratch space for the normals. */
export function inceptionRuleTensor(weightSeed: number, index: number, z?: Float64Array): { key: string; tensor: StoredTensor } {
  const spec = SPECS[index];
  if (!spec) throw new RangeError(`Inception weight index is ${index}; accepted: 0..${SPECS.length - 1}`);
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const normals = fillNormals(weightSeed + index, 0, z && z.length >= n ? z : new Float64Array(n), 0, n);
  const transform = roleOf(spec.key, spec.shape);
  const data = new Float32Array(n);
  for (let e = 0; e < n; e++) data[e] = transform(normals[e]);
  return { key: spec.key, tensor: { dtype: 'F32', shape: [...spec.shape], data } };
}

/** The 472 tensors of the rule for `weightSeed`, keyed and ordered as pytorch-fid's state_dict. */
export function inceptionRuleWeights(weightSeed: number): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  // One scratch buffer the size of the largest tensor (fc.weight) serves every draw.
  const z = new Float64Array(Math.max(...SPECS.map((s) => s.shape.reduce((a, b) => a * b, 1))));
  for (let i = 0; i < SPECS.length; i++) {
    const { key, tensor } = inceptionRuleTensor(weightSeed, i, z);
    out.set(key, tensor);
  }
  return out;
}
