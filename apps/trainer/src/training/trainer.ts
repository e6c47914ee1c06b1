/**
 * guided-diffusion's TrainLoop.run_step on TensorFlow.js: draw a minibatch, take the DDPM-IP loss
 * (trainingLosses) and its gradient, clip (optionally), step AdamW, update the EMA. The parameters,
 * moments and EMA are plain tensor maps owned here; every step frees what it replaces, so the
 * number of live tensors stays constant across steps.
 */

import { createProcess, type DiffusionProcess, type TrainingBatch, trainingLosses } from '@diffq/diffusion';
import { type DiffusionConfig, parseDiffusionConfig } from '@diffq/diffusion/config';
import type { StoredTensor } from '@diffq/networks';
import { planUNet, type UNet, unetForward, unetParamSpecs, uploadParams } from '@diffq/networks';
import { parseUNetConfig, type UNetConfig } from '@diffq/networks/config';
import * as tf from '@tensorflow/tfjs';
import { ADAMW_DEFAULTS, type AdamWMoments, adamWUpdate, clipGlobalNorm, zeroMoments } from './adamw.ts';
import { emaDecay, emaUpdate } from './ema.ts';
import { initialStateDict } from './param-init.ts';
import { type GradientPool, sliceBounds, sliceDraw, sliceGradients } from './slice-gradients.ts';
import { downloadStateDict } from './state-dict.ts';
import { type BatchDraw, checkDataset, drawBatch, EpochOrder, type ImageDataset } from './training-data.ts';

/** What is trained: model.json's `model` (create_model args), `diffusion` and `guidance.null_label`. */
export interface ModelSpec {
  model: Record<string, unknown>;
  diffusion: Record<string, unknown>;
  nullLabel: number | null;
}

export interface TrainerSettings {
  batchSize: number;
  /** AdamW learning rate. */
  lr: number;
  weightDecay: number;
  /** The EMA's decay (emaDecay ramps up to it). */
  emaRate: number;
  /** Probability that a label is replaced by the null label (0 for no classifier-free training). */
  classDropout: number;
  /** Clip the gradient's global L2 norm to this; null for no clipping (guided-diffusion does not clip). */
  gradClip: number | null;
  /** Seed of every draw: initialisation, data order, timesteps, dropout, noise. */
  seed: number;
}

export interface TrainStepReport {
  /** Updates done after this one (1-based). */
  step: number;
  /** Mean loss of the minibatch. */
  loss: number;
  /** Per-sample losses [B] and their timesteps [B] (for loss-by-quartile logging). */
  losses: Float32Array;
  t: Int32Array;
  /** The gradient's global norm before clipping, when clipping. */
  gradNorm?: number;
}

/** The tensors that make up a training state; the trainer owns and frees them. */
export interface TrainingTensors {
  params: Map<string, tf.Tensor>;
  moments: AdamWMoments;
  ema: Map<string, tf.Tensor>;
}

function checkSettings(s: TrainerSettings, spec: ModelSpec, config: UNetConfig): void {
  const bad = (field: string, value: unknown, range: string) => new Error(`training setting ${field} is ${value}; accepted: ${range}`);
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1) throw bad('batchSize', s.batchSize, 'an integer ≥ 1');
  if (!(s.lr > 0 && s.lr < 1)) throw bad('lr', s.lr, 'a number in (0, 1)');
  if (!(s.weightDecay >= 0 && s.weightDecay < 1)) throw bad('weightDecay', s.weightDecay, 'a number in [0, 1)');
  if (!(s.emaRate >= 0 && s.emaRate < 1)) throw bad('emaRate', s.emaRate, 'a number in [0, 1)');
  if (!(s.classDropout >= 0 && s.classDropout <= 1)) throw bad('classDropout', s.classDropout, 'a probability in [0, 1]');
  if (s.gradClip !== null && !(s.gradClip > 0)) throw bad('gradClip', s.gradClip, 'a positive number or null');
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > Number.MAX_SAFE_INTEGER) throw bad('seed', s.seed, 'an integer in [0, 2^53 − 1]');
  if (s.classDropout > 0 && spec.nullLabel === null) {
    throw new Error(
      `training setting classDropout is ${s.classDropout} but the model has no null label; set guidance.null_label or classDropout 0`,
    );
  }
  if (config.dropout > 0) {
    throw new Error(`model.dropout is ${config.dropout}; the trainer does not implement dropout yet, accepted: 0`);
  }
}

/** Everything a run needs to agree on before it starts; errors name the field. */
function checkRun(diffusion: DiffusionConfig, config: UNetConfig, spec: ModelSpec, settings: TrainerSettings, data: ImageDataset): void {
  if (diffusion.timestepRespacing !== '') {
    throw new Error(`diffusion.timestep_respacing is "${diffusion.timestepRespacing}"; training runs on every step, accepted: ""`);
  }
  checkSettings(settings, spec, config);
  checkDataset(data);
  const [c, h, w] = data.imageShape;
  if (c !== config.inChannels || h !== config.imageSize || w !== config.imageSize) {
    throw new Error(
      `training data images are [${data.imageShape}]; the model takes [${config.inChannels}, ${config.imageSize}, ${config.imageSize}]`,
    );
  }
  if ((data.labels !== undefined) !== (config.numClasses !== null)) {
    throw new Error(
      config.numClasses === null
        ? 'training data has labels but the model is unconditional'
        : 'the model is class-conditional and the training data has no labels',
    );
  }
}

function disposeState({ params, moments, ema }: TrainingTensors): void {
  tf.dispose([...params.values(), ...moments.m.values(), ...moments.v.values(), ...ema.values()]);
}

export class DiffusionTrainer {
  readonly config: UNetConfig;
  readonly diffusion: DiffusionConfig;
  readonly process: DiffusionProcess;
  readonly #specs;
  readonly #plan;
  readonly #order: EpochOrder;
  #state: TrainingTensors;
  #step: number;

  private constructor(
    readonly spec: ModelSpec,
    readonly data: ImageDataset,
    readonly settings: TrainerSettings,
    state: TrainingTensors,
    step: number,
  ) {
    try {
      this.config = parseUNetConfig(spec.model);
      this.diffusion = parseDiffusionConfig(spec.diffusion);
      checkRun(this.diffusion, this.config, spec, settings, data);
    } catch (e) {
      // The tensors were handed over; a run that cannot start frees them.
      disposeState(state);
      throw e;
    }
    this.process = createProcess(this.diffusion);
    this.#specs = unetParamSpecs(this.config);
    this.#plan = planUNet(this.config);
    this.#order = new EpochOrder(settings.seed, data.count);
    this.#state = state;
    this.#step = step;
  }

  /** A fresh run: guided-diffusion's initialisation from settings.seed, zero moments, EMA = initial weights. */
  static create(spec: ModelSpec, data: ImageDataset, settings: TrainerSettings): DiffusionTrainer {
    const specs = unetParamSpecs(parseUNetConfig(spec.model));
    const params = uploadParams(specs, initialStateDict(specs, settings.seed), 'initial weights');
    const ema = new Map([...params].map(([k, p]) => [k, p.clone()]));
    return new DiffusionTrainer(spec, data, settings, { params, moments: zeroMoments(params), ema }, 0);
  }

  /**
   * Continues from saved state dicts (PyTorch layout): the raw weights, AdamW's moments and the EMA
   * after `step` updates. Without moments (e.g. only the EMA was kept) AdamW restarts from zero.
   */
  static resume(
    spec: ModelSpec,
    data: ImageDataset,
    settings: TrainerSettings,
    saved: {
      step: number;
      params: ReadonlyMap<string, StoredTensor>;
      ema: ReadonlyMap<string, StoredTensor>;
      m?: ReadonlyMap<string, StoredTensor>;
      v?: ReadonlyMap<string, StoredTensor>;
    },
  ): DiffusionTrainer {
    const specs = unetParamSpecs(parseUNetConfig(spec.model));
    const params = uploadParams(specs, saved.params, 'checkpoint weights');
    const moments =
      saved.m && saved.v
        ? { m: uploadParams(specs, saved.m, 'AdamW first moments'), v: uploadParams(specs, saved.v, 'AdamW second moments') }
        : zeroMoments(params);
    const ema = uploadParams(specs, saved.ema, 'EMA weights');
    return new DiffusionTrainer(spec, data, settings, { params, moments, ema }, saved.step);
  }

  /** Updates done so far. */
  get step(): number {
    return this.#step;
  }

  #draw(step: number): BatchDraw {
    return drawBatch(
      this.data,
      this.#order,
      { ...this.settings, numTimesteps: this.process.numTimesteps, nullLabel: this.spec.nullLabel },
      step,
    );
  }

  /** The draw as the loss's TrainingBatch (tensors; call inside tf.tidy). */
  #batch(draw: BatchDraw): TrainingBatch {
    const [c, h, w] = this.data.imageShape;
    const shape: [number, number, number, number] = [draw.indices.length, c, h, w];
    return {
      xStart: tf.tensor4d(draw.xStart, shape),
      t: draw.t,
      noise: tf.tensor4d(draw.noise, shape),
      perturbNoise: tf.tensor4d(draw.perturbNoise, shape),
      y: draw.y ? tf.tensor1d(draw.y, 'int32') : undefined,
    };
  }

  #unet(params: ReadonlyMap<string, tf.Tensor>): UNet {
    return { config: this.config, plan: this.#plan, params, dispose: () => {} };
  }

  /** The mean loss of step `step`'s minibatch (its images, timesteps and noise) under the current weights; no update. */
  batchLoss(step: number): number {
    const draw = this.#draw(step);
    const loss = tf.tidy(() => {
      const unet = this.#unet(this.#state.params);
      return tf.mean(trainingLosses(this.process, (x, ts, y) => unetForward(unet, x, ts, y), this.#batch(draw)).loss);
    });
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  }

  /** The weights in key order (tfjs layout), as the gradient functions take them. */
  #weights(): tf.Tensor[] {
    return this.#keys.map((k) => this.#state.params.get(k)!);
  }

  get #keys(): string[] {
    return [...this.#state.params.keys()];
  }

  /**
   * The gradient of step `step`'s minibatch mean loss under the current weights, summed over slices:
   * the first computed here, the others by the pool's threads at the same time.
   */
  async #gradients(draw: BatchDraw, pool?: GradientPool): Promise<{ grads: tf.Tensor[]; lossTerm: number; losses: Float32Array }> {
    const b = draw.t.length;
    const bounds = sliceBounds(b, (pool?.size ?? 0) + 1);
    const net = { config: this.config, plan: this.#plan, process: this.process };
    const weights = this.#weights();
    // The threads start on their slices before this thread takes its own (compute posts at once).
    const remote = pool
      ? pool.compute(
          { keys: this.#keys, shapes: weights.map((w) => w.shape), values: weights.map((w) => w.dataSync() as Float32Array) },
          bounds.slice(1).map(([from, to]) => sliceDraw(draw, from, to)),
          b,
        )
      : Promise.resolve([]);
    const local = sliceGradients(net, this.#keys, weights, sliceDraw(draw, ...bounds[0]), this.data.imageShape, b);
    let lossTerm = local.lossTerm.dataSync()[0];
    const losses = new Float32Array(b);
    losses.set(local.losses.dataSync() as Float32Array, 0);
    tf.dispose([local.lossTerm, local.losses]);
    let grads = local.grads;
    try {
      const others = await remote;
      others.forEach((r, k) => {
        lossTerm += r.lossTerm;
        losses.set(r.losses, bounds[k + 1][0]);
        const summed = tf.tidy(() => grads.map((g, i) => tf.add(g, tf.tensor(r.grads[i], g.shape))));
        tf.dispose(grads);
        grads = summed;
      });
    } catch (error) {
      tf.dispose(grads);
      throw error;
    }
    return { grads, lossTerm, losses };
  }

  /**
   * The gradient of the current step's minibatch mean loss (host copies, by key), without an update:
   * with a pool it is computed data-parallel, and equals the single-thread one up to float32 rounding.
   */
  async gradients(pool?: GradientPool): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const { grads, lossTerm } = await this.#gradients(this.#draw(this.#step), pool);
    const keys = this.#keys;
    const host = new Map(keys.map((k, i) => [k, Float32Array.from(grads[i].dataSync() as Float32Array)]));
    tf.dispose(grads);
    return { loss: lossTerm, grads: host };
  }

  /** Clip, AdamW, EMA: the update of step this.step + 1 from its gradient (which it frees). */
  #apply(grads: tf.Tensor[]): { gradNorm?: number } {
    const s = this.settings;
    let gradMap = new Map(this.#keys.map((k, i) => [k, grads[i]]));
    let gradNorm: number | undefined;
    if (s.gradClip !== null) {
      const clipped = clipGlobalNorm(gradMap, s.gradClip);
      tf.dispose(grads);
      gradMap = clipped.grads;
      gradNorm = clipped.norm.dataSync()[0];
      clipped.norm.dispose();
    }
    const old = this.#state;
    const next = adamWUpdate(old.params, old.moments, gradMap, this.#step + 1, { ...ADAMW_DEFAULTS, lr: s.lr, weightDecay: s.weightDecay });
    const ema = emaUpdate(old.ema, next.params, emaDecay(s.emaRate, this.#step + 1));
    tf.dispose([...gradMap.values(), ...old.params.values(), ...old.moments.m.values(), ...old.moments.v.values(), ...old.ema.values()]);
    this.#state = { params: next.params, moments: next.moments, ema };
    this.#step += 1;
    return gradNorm === undefined ? {} : { gradNorm };
  }

  /** One optimisation step on the minibatch of step `this.step`, in this thread. */
  trainStep(): TrainStepReport {
    const draw = this.#draw(this.#step);
    const b = draw.t.length;
    const net = { config: this.config, plan: this.#plan, process: this.process };
    const { lossTerm, losses, grads } = sliceGradients(net, this.#keys, this.#weights(), sliceDraw(draw, 0, b), this.data.imageShape, b);
    const loss = lossTerm.dataSync()[0];
    const perSample = Float32Array.from(losses.dataSync() as Float32Array);
    tf.dispose([lossTerm, losses]);
    return { step: this.#step + 1, loss, losses: perSample, t: draw.t, ...this.#apply(grads) };
  }

  /** The same step with the minibatch split between this thread and the pool's (data parallelism). */
  async trainStepParallel(pool: GradientPool): Promise<TrainStepReport> {
    const draw = this.#draw(this.#step);
    const { grads, lossTerm, losses } = await this.#gradients(draw, pool);
    return { step: this.#step + 1, loss: lossTerm, losses, t: draw.t, ...this.#apply(grads) };
  }

  /** The state dicts (PyTorch key names and layouts) of the raw weights, moments and EMA. */
  stateDicts(): {
    params: Map<string, StoredTensor>;
    m: Map<string, StoredTensor>;
    v: Map<string, StoredTensor>;
    ema: Map<string, StoredTensor>;
  } {
    const { params, moments, ema } = this.#state;
    return {
      params: downloadStateDict(this.#specs, params),
      m: downloadStateDict(this.#specs, moments.m),
      v: downloadStateDict(this.#specs, moments.v),
      ema: downloadStateDict(this.#specs, ema),
    };
  }

  /** The EMA weights as a UNet of their own (copies; the caller disposes it), e.g. for sampling previews. */
  emaUNet(): UNet {
    const params = new Map([...this.#state.ema].map(([k, t]) => [k, t.clone()]));
    return { config: this.config, plan: this.#plan, params, dispose: () => tf.dispose([...params.values()]) };
  }

  dispose(): void {
    disposeState(this.#state);
  }
}
