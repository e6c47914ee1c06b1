/** Golden tensors as tfjs tensors and host arrays (float32 NCHW tensors, I64 indices as numbers). */
import * as tf from '@tensorflow/tfjs';
import type { GoldenCase } from '../case.ts';

export function tensor4d(c: GoldenCase, name: string): tf.Tensor4D {
  const s = c.tensor(name);
  if (s.shape.length !== 4) throw new Error(`case ${c.json.name}: tensor ${name} has shape [${s.shape}], expected 4 dimensions`);
  return tf.tensor4d(Float32Array.from(s.data as ArrayLike<number>), s.shape as [number, number, number, number], 'float32');
}

export function indices(c: GoldenCase, name: string): number[] {
  return Array.from(c.tensor(name).data as ArrayLike<number | bigint>, Number);
}

/** The values of a tensor (C order) as float32, disposing it. */
export function take(t: tf.Tensor): Float32Array {
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}
