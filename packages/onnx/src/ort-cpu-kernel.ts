/**
 * What the statistics kernels on onnxruntime (ort-moment-kernel.ts, ort-pairwise-kernel.ts,
 * ort-congruence.ts) share: loading onnxruntime-node, or the reason their JavaScript kernel runs
 * instead; the environment's choice between the two; and the CPU sessions of their small graphs, one
 * per shape. onnxruntime-node is imported here directly, not through onnx-engine.ts, so that the
 * kernels do not load TensorFlow.js (`diffq status` computes a live FID with them).
 */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';

/** onnxruntime-node, or why a kernel falls back to JavaScript. */
export type KernelRuntime = { ort: typeof Ort; fallback?: undefined } | { ort?: undefined; fallback: string };

/** Loads onnxruntime-node unless `onnxruntime` is false; says why not when it is off or cannot load. */
export async function loadKernelRuntime(onnxruntime = true): Promise<KernelRuntime> {
  if (!onnxruntime) return { fallback: 'onnxruntime switched off' };
  try {
    return { ort: await import('onnxruntime-node') };
  } catch (e) {
    return { fallback: `onnxruntime-node did not load: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** Whether the process's kernels use onnxruntime: yes unless DIFFQ_STATS_KERNEL=javascript. */
export function statsKernelOnnxruntime(): boolean {
  return process.env.DIFFQ_STATS_KERNEL !== 'javascript';
}

/**
 * A cache of CPU sessions by key: `session(key, graph)` opens the model `graph()` builds the first
 * time `key` is asked for, with `threads` per GEMM (default all cores).
 */
export function cpuSessions(ort: typeof Ort, threads = availableParallelism()) {
  const sessions = new Map<string, Promise<Ort.InferenceSession>>();
  return (key: string, graph: () => Uint8Array): Promise<Ort.InferenceSession> => {
    let opened = sessions.get(key);
    if (!opened) {
      opened = ort.InferenceSession.create(graph(), {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        // As onnx-engine.ts: a sleeping pool is faster than a spinning one on shared cores.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      sessions.set(key, opened);
    }
    return opened;
  };
}
