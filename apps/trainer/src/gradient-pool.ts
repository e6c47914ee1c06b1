/**
 * Worker threads that compute slices of a training step's minibatch (data parallelism on the CPU:
 * tfjs-wasm runs one core per thread). Each thread answers one slice per step; the trainer sums
 * them with its own slice (DiffusionTrainer.trainStepParallel).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DrawSlice, GradientPool, HostSliceGradients, HostWeights } from '@diffq/trainer';
import type { SliceReply, ThreadInit } from './gradient-thread.ts';

const ENTRY = new URL('./gradient-thread.js', import.meta.url);

/** Threads besides the main one that make sense here: one per further core. */
export function defaultGradientThreads(): number {
  return Math.max(0, availableParallelism() - 1);
}

export class ThreadGradientPool implements GradientPool {
  readonly #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Starts `threads` threads for the network of `init` (each loads tfjs and plans the UNet once). */
  static async start(threads: number, init: ThreadInit): Promise<ThreadGradientPool> {
    if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`gradient threads is ${threads}; accepted: an integer ≥ 1`);
    const workers = Array.from({ length: threads }, () => new Worker(ENTRY, { workerData: init }));
    // A thread is ready once it is online; a failing import surfaces as the first reply's error.
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => w.once('online', resolve).once('error', reject))));
    return new ThreadGradientPool(workers);
  }

  compute(weights: HostWeights, slices: readonly DrawSlice[], batchSize: number): Promise<HostSliceGradients[]> {
    if (slices.length > this.#workers.length) {
      return Promise.reject(new Error(`${slices.length} slices for ${this.#workers.length} gradient threads`));
    }
    return Promise.all(
      slices.map(
        (slice, k) =>
          new Promise<HostSliceGradients>((resolve, reject) => {
            const worker = this.#workers[k];
            const onError = (error: Error) => reject(new Error(`gradient thread ${k} failed: ${error.message}`));
            worker.once('error', onError);
            worker.once('message', (reply: SliceReply) => {
              worker.off('error', onError);
              if (reply.ok) resolve(reply.result);
              else reject(new Error(`gradient thread ${k}: ${reply.error}`));
            });
            worker.postMessage({ weights, slice, batchSize });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
