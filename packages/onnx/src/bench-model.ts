/**
 * `diffq bench-model --model <dir> --batch <n> --engine <auto|onnx|tfjs> --repeat <k> --json`:
 * the median time of one UNet forward at a batch size, after warm-up, on the engine that opened.
 */

import type { DenoiserEngine } from '@diffq/diffusion';
import type { DenoiserShape } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import type { ProviderChoice } from './execution-provider.ts';
import type { GraphDtype } from './graph-dtype.ts';
import { openModelEngine } from './model-engine.ts';
import { OnnxEngine } from './onnx-engine.ts';
import { ENGINE_CHOICES, type EngineChoice } from './open-engine.ts';

export interface BenchModelOptions {
  modelDir: string;
  batch: number;
  engine: EngineChoice;
  repeat: number;
  provider?: ProviderChoice;
  dtype?: GraphDtype;
}

export interface BenchModelResult {
  /** Median milliseconds per forward over `repeat` timed forwards. */
  medianMs: number;
  /** `onnx` or `tfjs`: the engine that opened. */
  engine: string;
  /** onnx: the execution provider (cpu, cuda); tfjs: the backend (wasm, tensorflow, cpu). */
  provider: string;
  /** Why that engine and provider, as openModelEngine reports it. */
  why: string;
  batch: number;
  timesMs: number[];
}

/** Forwards done before timing: the first run allocates and, on onnx, finalises the kernels. */
export const WARMUP_FORWARDS = 2;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One forward of a fixed batch, timed; for benchmarks that interleave engines. */
export interface TimedForward {
  /** Runs one forward, reads its output back, and resolves to the milliseconds it took. */
  once(): Promise<number>;
  dispose(): void;
}

/**
 * A batch of standard-normal x at timestep 500 (labels 0, 1, 2, … for a class-conditional model)
 * for `engine`. Each timed forward includes reading the output back, so asynchronous backends are
 * timed to completion.
 */
export function timedForward(engine: DenoiserEngine, config: DenoiserShape, batch: number): TimedForward {
  const x = tf.randomNormal([batch, config.inChannels, config.imageSize, config.imageSize], 0, 1, 'float32', 1) as tf.Tensor4D;
  const t = tf.fill([batch], 500, 'float32') as tf.Tensor1D;
  const k = config.numClasses;
  const y =
    k === null
      ? undefined
      : (tf.tensor1d(
          Array.from({ length: batch }, (_, i) => i % k),
          'int32',
        ) as tf.Tensor1D);
  return {
    async once() {
      const start = performance.now();
      const out = await engine.forward(x, t, y);
      await out.data();
      out.dispose();
      return performance.now() - start;
    },
    dispose: () => tf.dispose([x, t, ...(y ? [y] : [])]),
  };
}

/** `repeat` timed forwards after WARMUP_FORWARDS untimed ones. */
export async function timeForwards(engine: DenoiserEngine, config: DenoiserShape, batch: number, repeat: number): Promise<number[]> {
  const forward = timedForward(engine, config, batch);
  try {
    for (let i = 0; i < WARMUP_FORWARDS; i++) await forward.once();
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) times.push(await forward.once());
    return times;
  } finally {
    forward.dispose();
  }
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} is ${value}; accepted: an integer ≥ 1`);
}

export async function benchModel(o: BenchModelOptions): Promise<BenchModelResult> {
  positiveInteger('batch', o.batch);
  positiveInteger('repeat', o.repeat);
  if (!ENGINE_CHOICES.includes(o.engine)) throw new Error(`--engine is "${o.engine}"; accepted: ${ENGINE_CHOICES.join(', ')}`);
  const { engine, why, config } = await openModelEngine({ modelDir: o.modelDir, engine: o.engine, provider: o.provider, dtype: o.dtype });
  try {
    const timesMs = await timeForwards(engine, config, o.batch, o.repeat);
    const provider = engine instanceof OnnxEngine ? engine.provider : tf.getBackend();
    return { medianMs: median(timesMs), engine: engine.name, provider, why, batch: o.batch, timesMs };
  } finally {
    engine.dispose();
  }
}
