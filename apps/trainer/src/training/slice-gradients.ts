/**
 * Data parallelism for the trainer: the minibatch mean loss is L = (1/B)·Σᵢ ℓᵢ, so its gradient is
 * the sum over any partition of the batch of ∇ (1/B)·Σ_{i∈slice} ℓᵢ. Each thread takes one slice of
 * the same draw with the same weights and returns that term; their sum is the single-thread gradient
 * up to the order of float32 additions. Nothing here knows about threads: the pool that runs slices
 * elsewhere is an interface.
 */

import type { DiffusionProcess } from '@diffq/diffusion';
import { trainingLosses } from '@diffq/diffusion';
import { type planUNet, unetForward, withLayerOps } from '@diffq/networks';
import type { UNetConfig } from '@diffq/networks/config';
import * as tf from '@tensorflow/tfjs';
import { PORTABLE_LAYER_OPS } from './portable-ops.ts';
import type { BatchDraw } from './training-data.ts';

/** Samples [from, to) of a draw, host-side; `indices` is left out (only the loader needs it). */
export type DrawSlice = Omit<BatchDraw, 'indices'>;

export function sliceDraw(draw: BatchDraw, from: number, to: number): DrawSlice {
  const b = draw.t.length;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= b)) {
    throw new Error(`slice [${from}, ${to}) is not a non-empty part of a batch of ${b}`);
  }
  const size = draw.xStart.length / b;
  return {
    xStart: draw.xStart.slice(from * size, to * size),
    t: draw.t.slice(from, to),
    y: draw.y?.slice(from, to),
    noise: draw.noise.slice(from * size, to * size),
    perturbNoise: draw.perturbNoise.slice(from * size, to * size),
  };
}

/** Contiguous slice bounds of a batch of b split k ways, as even as can be (the first ones one larger). */
export function sliceBounds(b: number, k: number): [number, number][] {
  const parts = Math.min(k, b);
  const bounds: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < parts; i++) {
    const to = from + Math.floor(b / parts) + (i < b % parts ? 1 : 0);
    bounds.push([from, to]);
    from = to;
  }
  return bounds;
}

export interface SliceGradients {
  /** (1/B)·Σ_{slice} ℓᵢ. */
  lossTerm: tf.Scalar;
  /** ℓᵢ of the slice's samples, [n]. */
  losses: tf.Tensor1D;
  /** ∇ of lossTerm, one per parameter, in the order of the keys given. */
  grads: tf.Tensor[];
}

/**
 * The slice's share of the minibatch gradient, for a batch of `batchSize` in all. The caller owns
 * the returned tensors (nothing else stays allocated).
 */
export function sliceGradients(
  net: { config: UNetConfig; plan: ReturnType<typeof planUNet>; process: DiffusionProcess },
  keys: readonly string[],
  params: readonly tf.Tensor[],
  slice: DrawSlice,
  imageShape: readonly [number, number, number],
  batchSize: number,
): SliceGradients {
  let losses: tf.Tensor1D | undefined;
  const { value, grads } = tf.tidy(() => {
    const n = slice.t.length;
    const shape: [number, number, number, number] = [n, ...imageShape];
    const batch = {
      xStart: tf.tensor4d(slice.xStart, shape),
      t: slice.t,
      noise: tf.tensor4d(slice.noise, shape),
      perturbNoise: tf.tensor4d(slice.perturbNoise, shape),
      y: slice.y ? tf.tensor1d(slice.y, 'int32') : undefined,
    };
    const lossTerm = (...tensors: tf.Tensor[]) =>
      withLayerOps(PORTABLE_LAYER_OPS, () => {
        const unet = { config: net.config, plan: net.plan, params: new Map(keys.map((k, i) => [k, tensors[i]])), dispose: () => {} };
        const { loss } = trainingLosses(net.process, (x, ts, y) => unetForward(unet, x, ts, y), batch);
        losses = tf.keep(loss.clone()) as tf.Tensor1D;
        return tf.div(tf.sum(loss), batchSize) as tf.Scalar;
      });
    return tf.valueAndGrads(lossTerm)([...params]);
  });
  return { lossTerm: value, losses: losses!, grads };
}

/** What a thread returns for its slice: host copies of the gradient (key order) and the per-sample losses. */
export interface HostSliceGradients {
  lossTerm: number;
  losses: Float32Array;
  grads: Float32Array[];
}

/** The weights as a thread receives them: parameter names, and values and shapes in tfjs layout. */
export interface HostWeights {
  keys: string[];
  shapes: number[][];
  values: Float32Array[];
}

/** Computes slices of a step elsewhere (worker threads). `size` slices can run at once besides the caller's own. */
export interface GradientPool {
  readonly size: number;
  compute(weights: HostWeights, slices: readonly DrawSlice[], batchSize: number): Promise<HostSliceGradients[]>;
}
