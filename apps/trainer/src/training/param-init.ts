/**
 * The initial parameters of a UNetModel as guided-diffusion creates them: PyTorch's default
 * initialisation (Conv / Linear weight and bias U(−1/√fan_in, 1/√fan_in), Embedding N(0, 1),
 * GroupNorm weight 1 and bias 0) with zero_module on the layers unet.py zeroes: each ResBlock's last
 * conv (out_layers.3), each AttentionBlock's proj_out and the output conv (out.2), so every residual
 * branch starts as the identity and the network's first output is 0.
 */

import { fillNormals } from '@diffq/diffusion';
import type { ParamSpec, StoredTensor } from '@diffq/networks';
import { UNIFORM_PURPOSE, uniforms } from './random-streams.ts';

const ZERO_MODULES = [/\.out_layers\.3\.(weight|bias)$/, /\.proj_out\.(weight|bias)$/, /^out\.2\.(weight|bias)$/];

/** fan_in of a PyTorch weight [out, in, …kernel]: in · Π kernel. */
function fanIn(shape: readonly number[]): number {
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * A state_dict (PyTorch key names and shapes) for `specs`, drawn from `seed`: parameter i of the
 * list uses the seed's stream i, so adding a layer does not change the others' draws.
 */
export function initialStateDict(specs: readonly ParamSpec[], seed: number): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  const weightFanIn = new Map(specs.filter((s) => s.shape.length >= 2).map((s) => [s.key.replace(/\.weight$/, ''), fanIn(s.shape)]));
  specs.forEach((spec, stream) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const owner = spec.key.replace(/\.(weight|bias)$/, '');
    if (ZERO_MODULES.some((re) => re.test(spec.key))) {
      // zero_module: stays 0.
    } else if (spec.layout === 'embedding') {
      fillNormals(seed, stream, data);
    } else if (spec.shape.length >= 2 || weightFanIn.has(owner)) {
      // Weights of Conv/Linear, and their biases (which share the weight's fan_in).
      const bound = 1 / Math.sqrt(spec.shape.length >= 2 ? fanIn(spec.shape) : weightFanIn.get(owner)!);
      const u = uniforms(seed, stream, UNIFORM_PURPOSE.init, size);
      for (let i = 0; i < size; i++) data[i] = (2 * u[i] - 1) * bound;
    } else if (spec.key.endsWith('.weight')) {
      data.fill(1);
    }
    out.set(spec.key, { dtype: 'F32', shape: [...spec.shape], data });
  });
  return out;
}
