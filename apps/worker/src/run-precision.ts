/**
 * One precision per run. float32 engines (tfjs, onnx float32 graphs) agree to ~1e-6 and their images
 * to one level per pixel; a float16 graph is ~1e-3 away (docs/deployment.md, "float16"). A run whose
 * shards came from both would hold two populations that no one asked for, so the first shard of a
 * run fixes its precision and a worker computing in another one refuses the run's shards.
 *
 * Where it is fixed: Redis, with SET NX, so workers taking a run's first shards at the same moment
 * agree on one winner; and every shard's .json records its precision, so when Redis has lost the
 * record (a flush, then `diffq resume`) the stored shards fix it again before anyone claims anew.
 */
import { keys, type SamplingPrecision } from '@diffq/contract';
import { runPrecisionKey } from '@diffq/queue';
import { type ObjectStore, readShardMeta } from '@diffq/storage';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';

/** What the run's first shard was sampled with; `engine` and `worker` are for the message. */
export interface RunSampling {
  precision: SamplingPrecision;
  engine: string;
  worker: string;
}

/** The precision of the run's stored shards (the first one readable), or undefined when none is stored. */
async function storedPrecision(store: ObjectStore, runId: string): Promise<RunSampling | undefined> {
  const metas = (await store.list(keys.shards(runId))).filter((key) => key.endsWith('.json'));
  for (const key of metas) {
    const index = Number(key.slice(keys.shards(runId).length, -'.json'.length));
    const meta = await readShardMeta(store, runId, index).catch(() => undefined);
    if (meta) return { precision: meta.precision, engine: meta.engine, worker: meta.worker.id };
  }
  return undefined;
}

export class RunPrecision {
  /** The runs this worker already admitted, so Redis is asked once per run, not once per shard. */
  private readonly admitted = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly mine: RunSampling,
  ) {}

  /** The run's fixed sampling, claiming it for this worker's precision when nothing fixed it yet. */
  async fixed(store: ObjectStore, runId: string): Promise<RunSampling> {
    const key = runPrecisionKey(this.prefix, runId);
    let recorded = await this.redis.get(key);
    if (recorded === null) {
      const claim = (await storedPrecision(store, runId)) ?? this.mine;
      await this.redis.set(key, JSON.stringify(claim), 'NX');
      recorded = await this.redis.get(key);
    }
    return JSON.parse(recorded ?? JSON.stringify(this.mine)) as RunSampling;
  }

  /** Resolves when this worker may sample the run's shards; throws UnrecoverableError when its precision differs. */
  async admit(store: ObjectStore, runId: string): Promise<void> {
    if (this.admitted.has(runId)) return;
    const fixed = await this.fixed(store, runId);
    if (fixed.precision !== this.mine.precision) {
      throw new UnrecoverableError(
        `run ${runId} is sampled in ${fixed.precision} (its first shard came from ${fixed.worker}, ${fixed.engine}); ` +
          `this worker computes in ${this.mine.precision} (${this.mine.engine}), and one run keeps one precision. ` +
          `Sample it with ${fixed.precision} workers (${fixed.precision === 'float16' ? 'DIFFQ_ONNX_DTYPE=float16 with --onnx-provider cuda' : 'DIFFQ_ONNX_DTYPE unset or float32'}), then diffq resume ${runId}`,
      );
    }
    this.admitted.add(runId);
    // A worker serves many runs over its life; remembering a few hundred is plenty.
    if (this.admitted.size > 256) this.admitted.delete(this.admitted.values().next().value as string);
  }
}
