/**
 * Deterministic random parameters for a network's state_dict keys: for tests and benchmarks that need
 * a network of a given architecture but no trained checkpoint. Every layer gets non-zero weights
 * (unlike the reference's zero-initialised output convs) so that every layer influences the output.
 */
import type { StoredTensor } from '../weights/safetensors.ts';
import { classifierParameterShapes } from './classifier.ts';
import type { ClassifierConfig } from './classifier-config.ts';
import { unetParameterShapes } from './unet.ts';
import type { UNetConfig } from './unet-config.ts';

/** mulberry32: a small, fast 32-bit generator; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * One float32 tensor per key, drawn from `seed` in the map's order:
 * matrices and kernels uniform with variance 1/fan_in (fan_in = product of all but the first dim),
 * `*.weight` vectors (GroupNorm gains) 1 ± 0.1, other vectors (biases) ± 0.1.
 */
export function randomStateDict(shapes: ReadonlyMap<string, readonly number[]>, seed: number): Map<string, StoredTensor> {
  const uniform = mulberry32(seed);
  const out = new Map<string, StoredTensor>();
  for (const [key, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (shape.length >= 2) {
      const bound = Math.sqrt(3 / shape.slice(1).reduce((a, b) => a * b, 1));
      for (let i = 0; i < size; i++) data[i] = (2 * uniform() - 1) * bound;
    } else {
      const centre = key.endsWith('.weight') ? 1 : 0;
      for (let i = 0; i < size; i++) data[i] = centre + 0.1 * (2 * uniform() - 1);
    }
    out.set(key, { dtype: 'F32', shape: [...shape], data });
  }
  return out;
}

/** A UNetModel(config) state_dict of random parameters (randomStateDict), e.g. for createUNet. */
export function randomUNetWeights(config: UNetConfig, seed: number): Map<string, StoredTensor> {
  return randomStateDict(unetParameterShapes(config), seed);
}

/** An EncoderUNetModel(config) state_dict of random parameters (randomStateDict), e.g. for createClassifier. */
export function randomClassifierWeights(config: ClassifierConfig, seed: number): Map<string, StoredTensor> {
  return randomStateDict(classifierParameterShapes(config), seed);
}
