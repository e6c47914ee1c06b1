/**
 * One data-parallel training thread: it holds the network's plan and the diffusion process, and for
 * every step receives the weights and a slice of the minibatch, and answers with that slice's share
 * of the gradient (apps/trainer/src/training/slice-gradients.ts). It keeps no state between
 * steps but the plan, so the main thread's weights are the only truth.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createProcess, initBackend, parseDiffusionConfig } from '@diffq/diffusion';
import { parseUNetConfig, planUNet } from '@diffq/networks';
import { type DrawSlice, type HostSliceGradients, type HostWeights, sliceGradients } from '@diffq/trainer';
import * as tf from '@tensorflow/tfjs';

export interface ThreadInit {
  model: Record<string, unknown>;
  diffusion: Record<string, unknown>;
  imageShape: [number, number, number];
}

export interface SliceRequest {
  weights: HostWeights;
  slice: DrawSlice;
  batchSize: number;
}

export type SliceReply = { ok: true; result: HostSliceGradients } | { ok: false; error: string };

const init = workerData as ThreadInit;
await initBackend();
const config = parseUNetConfig(init.model);
const net = { config, plan: planUNet(config), process: createProcess(parseDiffusionConfig(init.diffusion)) };

parentPort?.on('message', (request: SliceRequest) => {
  try {
    const { keys, shapes, values } = request.weights;
    const params = values.map((v, i) => tf.tensor(v, shapes[i]));
    const g = sliceGradients(net, keys, params, request.slice, init.imageShape, request.batchSize);
    const result: HostSliceGradients = {
      lossTerm: g.lossTerm.dataSync()[0],
      losses: Float32Array.from(g.losses.dataSync() as Float32Array),
      grads: g.grads.map((t) => Float32Array.from(t.dataSync() as Float32Array)),
    };
    tf.dispose([...params, g.lossTerm, g.losses, ...g.grads]);
    parentPort?.postMessage(
      { ok: true, result } satisfies SliceReply,
      result.grads.map((a) => a.buffer as ArrayBuffer),
    );
  } catch (error) {
    parentPort?.postMessage({ ok: false, error: (error as Error).stack ?? String(error) } satisfies SliceReply);
  }
});
