/**
 * Seeded random DINOv2 weights for test fixtures and benchmarks: any size, the official keys and
 * shapes, and values by role in the spirit of the golden cases' rule (LayerScale well away from 0,
 * LayerNorm gains and biases that matter, a position embedding large enough that its interpolation
 * shows), so every part of the network moves the features. The role transforms take z, uniform with
 * mean 0 and variance 1 from one mulberry32 stream in state_dict order: a full-size network has
 * 304 M values, which diffq's Philox normals would take minutes to draw. A PyTorch comparison loads
 * the weights from the safetensors file they were written to.
 */
import { mulberry32 } from '../adm/random-weights.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import type { Dinov2Config } from './dinov2-config.ts';
import { dinov2ParamSpecs } from './dinov2-params.ts';

/** The transform of z (mean 0, variance 1) by the role its key names. */
function roleOf(key: string, shape: readonly number[]): (z: number) => number {
  if (key.endsWith('.gamma')) return (z) => 0.4 + 0.2 * z;
  if (/norm\d?\.weight$/.test(key)) return (z) => 1 + 0.1 * z;
  if (/norm\d?\.bias$/.test(key)) return (z) => 0.1 * z;
  if (key === 'pos_embed') return (z) => 0.5 * z;
  if (key === 'cls_token' || key === 'register_tokens' || key === 'mask_token') return (z) => z;
  if (key.endsWith('.weight')) {
    const gain = (key.endsWith('attn.qkv.weight') ? 1.25 : 1) / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
    return (z) => gain * z;
  }
  return (z) => 0.05 * z;
}

/** A DinoVisionTransformer(config) state_dict of seeded random values (see the file comment). */
export function randomDinov2Weights(config: Dinov2Config, seed: number): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  const uniform = mulberry32(seed);
  const halfWidth = Math.sqrt(3);
  for (const spec of dinov2ParamSpecs(config)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const transform = roleOf(spec.key, spec.shape);
    const data = new Float32Array(n);
    for (let e = 0; e < n; e++) data[e] = transform((2 * uniform() - 1) * halfWidth);
    out.set(spec.key, { dtype: 'F32', shape: [...spec.shape], data });
  }
  return out;
}
