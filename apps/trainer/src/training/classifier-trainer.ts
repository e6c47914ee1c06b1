/**
 * Supervised training of the MNIST feature network (features/mnist-classifier.ts) on TensorFlow.js:
 * softmax cross-entropy on minibatches of randomly rotated, scaled and shifted digits, AdamW with a linear warm-up and
 * a cosine decay of the learning rate, and an EMA of the weights, which is what is saved and
 * evaluated. Every draw (initialisation, data order, shifts) comes from (seed, step) alone
 * (random-streams.ts), like the diffusion trainer's.
 */

import type { MnistClassifierConfig, StoredTensor } from '@diffq/networks';
import { mnistClassifierForward, mnistClassifierInput, mnistClassifierParamSpecs, uploadParams, withLayerOps } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import { ADAMW_DEFAULTS, type AdamWMoments, adamWUpdate, zeroMoments } from './adamw.ts';
import { emaDecay, emaUpdate } from './ema.ts';
import { initialStateDict } from './param-init.ts';
import { PORTABLE_LAYER_OPS } from './portable-ops.ts';
import { UNIFORM_PURPOSE, uniforms } from './random-streams.ts';
import { downloadStateDict } from './state-dict.ts';
import { EpochOrder } from './training-data.ts';

/** Labelled images as the data sets give them: uint8 NHWC. */
export interface LabelledImages {
  /** [N, H, W, C] bytes. */
  images: Uint8Array;
  shape: [number, number, number, number];
  /** [N] classes. */
  labels: Int32Array;
}

export interface ClassifierTrainerSettings {
  batchSize: number;
  /** Peak AdamW learning rate, reached after warmupSteps. */
  lr: number;
  /** Updates over which the learning rate decays to 0 (a cosine); the run's length. */
  steps: number;
  warmupSteps: number;
  weightDecay: number;
  emaRate: number;
  /** Each training digit is shifted by up to this many pixels in x and in y, uniformly. */
  maxShift: number;
  /** … rotated by up to this many degrees either way … */
  maxRotation: number;
  /** … and scaled by a factor in [1 − maxScale, 1 + maxScale]. */
  maxScale: number;
  seed: number;
}

export interface ClassifierStepReport {
  /** Updates done after this one (1-based). */
  step: number;
  /** Mean cross-entropy of the minibatch. */
  loss: number;
  /** Correct predictions in the minibatch (under the weights before the update). */
  correct: number;
  lr: number;
}

/** lr at update `step` (1-based): linear warm-up to `peak`, then a half cosine down to 0 at `total`. */
export function cosineLearningRate(step: number, total: number, warmup: number, peak: number): number {
  if (step <= warmup) return (peak * step) / Math.max(1, warmup);
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return 0.5 * peak * (1 + Math.cos(Math.PI * progress));
}

/** One image's random distortion: rotation (radians) and scale about the centre, then a shift in pixels. */
export interface Distortion {
  angle: number;
  scale: number;
  dx: number;
  dy: number;
}

/**
 * Each image distorted by its own similarity transform, sampled bilinearly with zeros outside:
 * out(p) = in(c + R(−angle)·(p − c − d)/scale), c the image centre, d = (dx, dy). Integer shifts
 * with no rotation or scaling move pixels exactly. images uint8 [N, H, W, C] → a new array.
 */
export function distortImages(
  images: Uint8Array,
  shape: readonly [number, number, number, number],
  distortions: readonly Distortion[],
): Uint8Array {
  const [n, h, w, c] = shape;
  const out = new Uint8Array(images.length);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const at = (base: number, y: number, x: number, ch: number) =>
    y >= 0 && y < h && x >= 0 && x < w ? images[base + (y * w + x) * c + ch] : 0;
  for (let i = 0; i < n; i++) {
    const { angle, scale, dx, dy } = distortions[i];
    const cos = Math.cos(angle) / scale;
    const sin = Math.sin(angle) / scale;
    const base = i * h * w * c;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const u = x - cx - dx;
        const v = y - cy - dy;
        const sx = cx + cos * u + sin * v;
        const sy = cy - sin * u + cos * v;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        for (let ch = 0; ch < c; ch++) {
          const top = at(base, y0, x0, ch) * (1 - fx) + at(base, y0, x0 + 1, ch) * fx;
          const bottom = at(base, y0 + 1, x0, ch) * (1 - fx) + at(base, y0 + 1, x0 + 1, ch) * fx;
          out[base + (y * w + x) * c + ch] = Math.round(top * (1 - fy) + bottom * fy);
        }
      }
    }
  }
  return out;
}

function checkSettings(s: ClassifierTrainerSettings): void {
  const bad = (field: string, value: unknown, range: string) =>
    new Error(`classifier training setting ${field} is ${value}; accepted: ${range}`);
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1) throw bad('batchSize', s.batchSize, 'an integer ≥ 1');
  if (!(s.lr > 0 && s.lr < 1)) throw bad('lr', s.lr, 'a number in (0, 1)');
  if (!Number.isInteger(s.steps) || s.steps < 1) throw bad('steps', s.steps, 'an integer ≥ 1');
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw bad('warmupSteps', s.warmupSteps, 'an integer ≥ 0');
  if (!(s.weightDecay >= 0 && s.weightDecay < 1)) throw bad('weightDecay', s.weightDecay, 'a number in [0, 1)');
  if (!(s.emaRate >= 0 && s.emaRate < 1)) throw bad('emaRate', s.emaRate, 'a number in [0, 1)');
  if (!(s.maxShift >= 0 && s.maxShift <= 8)) throw bad('maxShift', s.maxShift, 'a number of pixels in [0, 8]');
  if (!(s.maxRotation >= 0 && s.maxRotation <= 45)) throw bad('maxRotation', s.maxRotation, 'a number of degrees in [0, 45]');
  if (!(s.maxScale >= 0 && s.maxScale < 0.5)) throw bad('maxScale', s.maxScale, 'a number in [0, 0.5)');
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > Number.MAX_SAFE_INTEGER) throw bad('seed', s.seed, 'an integer in [0, 2^53 − 1]');
}

function checkData(c: MnistClassifierConfig, data: LabelledImages): void {
  const [n, h, w, ch] = data.shape;
  if (h !== c.imageSize || w !== c.imageSize || ch !== c.inChannels) {
    throw new Error(
      `classifier training images are [${h}, ${w}, ${ch}]; the network takes [${c.imageSize}, ${c.imageSize}, ${c.inChannels}]`,
    );
  }
  if (n < 1 || data.images.length !== n * h * w * ch)
    throw new Error(`classifier training data: ${data.images.length} bytes for shape [${data.shape}]`);
  if (data.labels.length !== n) throw new Error(`classifier training data: ${data.labels.length} labels for ${n} images`);
  const badLabel = data.labels.find((y) => !(y >= 0 && y < c.numClasses));
  if (badLabel !== undefined) throw new Error(`classifier training data: label ${badLabel}; accepted: 0..${c.numClasses - 1}`);
}

/** The number of correct argmax predictions of logits [N, K] (host side). */
export function countCorrect(logits: Float32Array, labels: Int32Array, numClasses: number): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (logits[i * numClasses + k] > logits[i * numClasses + best]) best = k;
    if (best === labels[i]) correct += 1;
  }
  return correct;
}

export class MnistClassifierTrainer {
  readonly #specs;
  readonly #order: EpochOrder;
  #params: Map<string, tf.Tensor>;
  #moments: AdamWMoments;
  #ema: Map<string, tf.Tensor>;
  #step = 0;

  /** A fresh run: PyTorch's default initialisation from settings.seed, zero moments, EMA = initial weights. */
  constructor(
    readonly config: MnistClassifierConfig,
    readonly data: LabelledImages,
    readonly settings: ClassifierTrainerSettings,
  ) {
    checkSettings(settings);
    checkData(config, data);
    this.#specs = mnistClassifierParamSpecs(config);
    this.#order = new EpochOrder(settings.seed, data.shape[0]);
    this.#params = uploadParams(this.#specs, initialStateDict(this.#specs, settings.seed), 'initial weights');
    this.#moments = zeroMoments(this.#params);
    this.#ema = new Map([...this.#params].map(([k, p]) => [k, p.clone()]));
  }

  get step(): number {
    return this.#step;
  }

  /** Step `step`'s minibatch: its images distorted by the step's own uniforms, and their labels. */
  batch(step: number): { images: Uint8Array; shape: [number, number, number, number]; labels: Int32Array } {
    const [, h, w, c] = this.data.shape;
    const b = this.settings.batchSize;
    const indices = this.#order.indices(step, b);
    const perImage = h * w * c;
    const picked = new Uint8Array(b * perImage);
    for (const [i, idx] of indices.entries()) picked.set(this.data.images.subarray(idx * perImage, (idx + 1) * perImage), i * perImage);
    const shape: [number, number, number, number] = [b, h, w, c];
    const s = this.settings;
    // The classifier draws no timesteps, so the per-step uniform stream is free for the distortions.
    const u = uniforms(s.seed, step, UNIFORM_PURPOSE.step, 4 * b);
    const spread = (k: number, max: number) => (2 * u[k] - 1) * max;
    const distortions = Array.from({ length: b }, (_, i) => ({
      angle: (spread(4 * i, s.maxRotation) * Math.PI) / 180,
      scale: 1 + spread(4 * i + 1, s.maxScale),
      dx: spread(4 * i + 2, s.maxShift),
      dy: spread(4 * i + 3, s.maxShift),
    }));
    const plain = s.maxShift === 0 && s.maxRotation === 0 && s.maxScale === 0;
    const images = plain ? picked : distortImages(picked, shape, distortions);
    return { images, shape, labels: Int32Array.from(indices, (idx) => this.data.labels[idx]) };
  }

  /** One AdamW update on the minibatch of step `this.step`. */
  trainStep(): ClassifierStepReport {
    const s = this.settings;
    const { images, shape, labels } = this.batch(this.#step);
    const keys = [...this.#params.keys()];
    let logits: tf.Tensor | undefined;
    const { value, grads } = tf.tidy(() => {
      const x = mnistClassifierInput(images, shape);
      const targets = tf.oneHot(tf.tensor1d(labels, 'int32'), this.config.numClasses);
      const meanLoss = (...tensors: tf.Tensor[]) =>
        withLayerOps(PORTABLE_LAYER_OPS, () => {
          const out = mnistClassifierForward(this.config, new Map(keys.map((k, i) => [k, tensors[i]])), x);
          logits = tf.keep(out.logits.clone());
          return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(out.logits)), 1))) as tf.Scalar;
        });
      return tf.valueAndGrads(meanLoss)(keys.map((k) => this.#params.get(k)!));
    });
    const lr = cosineLearningRate(this.#step + 1, s.steps, s.warmupSteps, s.lr);
    const gradMap = new Map(keys.map((k, i) => [k, grads[i]]));
    const next = adamWUpdate(this.#params, this.#moments, gradMap, this.#step + 1, { ...ADAMW_DEFAULTS, lr, weightDecay: s.weightDecay });
    const ema = emaUpdate(this.#ema, next.params, emaDecay(s.emaRate, this.#step + 1));
    tf.dispose([...grads, ...this.#params.values(), ...this.#moments.m.values(), ...this.#moments.v.values(), ...this.#ema.values()]);
    this.#params = next.params;
    this.#moments = next.moments;
    this.#ema = ema;
    this.#step += 1;
    const loss = value.dataSync()[0];
    const correct = countCorrect(logits!.dataSync() as Float32Array, labels, this.config.numClasses);
    tf.dispose([value, logits!]);
    return { step: this.#step, loss, correct, lr };
  }

  /** The EMA weights' logits [N, classes] of uint8 NHWC images (no shift). */
  emaLogits(images: Uint8Array, shape: readonly [number, number, number, number]): Float32Array {
    const [n, h, w, c] = shape;
    const out = new Float32Array(n * this.config.numClasses);
    const chunk = 250;
    for (let from = 0; from < n; from += chunk) {
      const count = Math.min(chunk, n - from);
      const logits = tf.tidy(
        () =>
          mnistClassifierForward(
            this.config,
            this.#ema,
            mnistClassifierInput(images.subarray(from * h * w * c, (from + count) * h * w * c), [count, h, w, c]),
          ).logits,
      );
      out.set(logits.dataSync() as Float32Array, from * this.config.numClasses);
      logits.dispose();
    }
    return out;
  }

  /** The EMA weights as a PyTorch-layout state_dict (what weights.safetensors holds). */
  emaStateDict(): Map<string, StoredTensor> {
    return downloadStateDict(this.#specs, this.#ema);
  }

  dispose(): void {
    tf.dispose([...this.#params.values(), ...this.#moments.m.values(), ...this.#moments.v.values(), ...this.#ema.values()]);
  }
}
