/**
 * The producer's connections, opened on first use: one Redis client (failing fast when Redis is
 * unreachable), the FlowProducer, a Queue per name and a store per URL. Every command gets one.
 */
import { FINALIZE_QUEUE_NAME } from '@diffq/contract';
import { assertReachable, openRedis, runsKey, type Settings } from '@diffq/queue';
import { type ObjectStore, StoreCache } from '@diffq/storage';
import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** What `<prefix>:runs` holds per run: enough to find it again (`diffq runs`, status, exporter). */
export interface RunEntry {
  runId: string;
  modelId: string;
  storeUrl: string;
  seedCount: number;
  shards: number;
  launchedAt: string;
}

export class Producer {
  private client?: Redis;
  private flowProducer?: FlowProducer;
  private readonly queues = new Map<string, Queue>();
  private readonly stores = new StoreCache();

  constructor(readonly settings: Settings) {}

  get prefix(): string {
    return this.settings.prefix;
  }

  /** The Redis client, checked with a PING the first time. */
  async redis(): Promise<Redis> {
    if (!this.client) {
      const client = openRedis(this.settings.redis, 'cli');
      try {
        await assertReachable(client, this.settings.redis.url);
      } catch (error) {
        client.disconnect();
        throw error;
      }
      this.client = client;
    }
    return this.client;
  }

  async flow(): Promise<FlowProducer> {
    this.flowProducer ??= new FlowProducer({ connection: await this.redis(), prefix: this.prefix });
    return this.flowProducer;
  }

  async queue(name: string): Promise<Queue> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: await this.redis(), prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  finalizeQueue(): Promise<Queue> {
    return this.queue(FINALIZE_QUEUE_NAME);
  }

  store(url = this.settings.store): ObjectStore {
    return this.stores.get(url);
  }

  async registerRun(entry: RunEntry): Promise<void> {
    await (await this.redis()).hset(runsKey(this.prefix), entry.runId, JSON.stringify(entry));
  }

  async runEntry(runId: string): Promise<RunEntry | undefined> {
    const text = await (await this.redis()).hget(runsKey(this.prefix), runId);
    return text ? (JSON.parse(text) as RunEntry) : undefined;
  }

  async runEntries(): Promise<RunEntry[]> {
    const all = await (await this.redis()).hgetall(runsKey(this.prefix));
    return Object.values(all)
      .map((text) => JSON.parse(text) as RunEntry)
      .sort((a, b) => a.launchedAt.localeCompare(b.launchedAt));
  }

  async close(): Promise<void> {
    await this.flowProducer?.close();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.stores.close();
    if (this.client) await this.client.quit().catch(() => this.client?.disconnect());
    this.queues.clear();
  }
}
