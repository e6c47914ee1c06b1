/**
 * A worker's heartbeat: the record each live worker keeps in Redis under a short TTL and rewrites
 * every few seconds (apps/worker/src/heartbeat.ts). A worker that dies stops rewriting it and Redis
 * drops it when the TTL runs out, so the records present are the live fleet. `diffq workers`, the
 * dashboard and the exporter read it through this one schema.
 */
import { z } from 'zod';
import { ModelIdSchema, RunIdSchema } from './ids.ts';
import { parseWith } from './zod-errors.ts';

export const HEARTBEAT_FORMAT = 'diffq-worker/1';

export const WorkerHeartbeatSchema = z
  .object({
    format: z.literal(HEARTBEAT_FORMAT),
    /** --worker-id, default host:pid; the name in shard metadata and logs. */
    id: z.string().min(1).max(200),
    host: z.string().min(1).max(255),
    pid: z.number().int().min(1),
    /** Model id, the queue suffix: the worker serves `sample.<model>`. */
    model: ModelIdSchema,
    /** `onnx` or `tfjs`. */
    engine: z.string().min(1),
    /** What runs the network: the onnx execution provider (cpu, cuda) or the tfjs backend (wasm, cpu). */
    provider: z.string().min(1),
    /** Precision of the denoiser's graph: float32 or float16. */
    precision: z.enum(['float32', 'float16']),
    batchSize: z.number().int().min(1),
    /** Samples per second this worker stored over its last minutes; null before its first shard. */
    samplesPerSecond: z.number().min(0).nullable(),
    /** Samples stored since the worker started. */
    samplesDone: z.number().int().min(0),
    /** The shard it is sampling now, or null when idle. */
    currentShard: z
      .object({ runId: RunIdSchema, shardIndex: z.number().int().min(0), startedAt: z.string().datetime() })
      .strict()
      .nullable(),
    startedAt: z.string().datetime(),
    /** When the worker wrote this record (its own clock). */
    seenAt: z.string().datetime(),
    /** Seconds the record lives unless rewritten; readers tell the age of a record from its remaining TTL. */
    ttlSeconds: z.number().int().min(1),
  })
  .strict();

export type WorkerHeartbeat = z.output<typeof WorkerHeartbeatSchema>;

export function parseWorkerHeartbeat(input: unknown): WorkerHeartbeat {
  return parseWith(WorkerHeartbeatSchema, input, 'worker heartbeat');
}
