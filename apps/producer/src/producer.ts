/**
 * The producer's connections, opened on first use: one Redis client (failing fast when Redis is
 * unreachable), the FlowProducer, a Queue per name and a store per URL. Every command gets one;
 * the long-running ones (dashboard, exporter) call keepConnected first, so that their client
 * reconnects forever and says so in one line per outage.
 */
import { FINALIZE_QUEUE_NAME } from '@diffq/contract';
import { assertReachable, logOutages, openRedis, type RedisRole, runsKey, type Settings } from '@diffq/queue';
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
  private connecting?: Promise<Redis>;
  private flowProducer?: FlowProducer;
  private readonly queues = new Map<string, Queue>();
  private readonly stores = new StoreCache();
  private role: RedisRole = 'cli';
  private log?: (line: string) => void;

  constructor(readonly settings: Settings) {}

  /** For a server: reconnect to Redis forever, logging each outage once; call before the first use. */
  keepConnected(log: (line: string) => void): void {
    if (this.connecting) throw new Error('keepConnected must be called before Redis is first used');
    this.role = 'server';
    this.log = log;
  }

  get prefix(): string {
    return this.settings.prefix;
  }

  /** The Redis client, checked with a PING the first time (callers that come meanwhile share that check). */
  redis(): Promise<Redis> {
    this.connecting ??= (async () => {
      const client = openRedis(this.settings.redis, this.role);
      try {
        await assertReachable(client, this.settings.redis.url);
      } catch (error) {
        client.disconnect();
        this.connecting = undefined;
        throw error;
      }
      if (this.log) logOutages(client, this.settings.redis.url, this.log);
      this.client = client;
      return client;
    })();
    return this.connecting;
  }

  async flow(): Promise<FlowProducer> {
    if (!this.flowProducer) {
      this.flowProducer = new FlowProducer({ connection: await this.redis(), prefix: this.prefix });
      // Connection errors surface through the commands that hit them (and logOutages); BullMQ
      // would print each one's stack trace when nobody listens.
      this.flowProducer.on('error', () => {});
    }
    return this.flowProducer;
  }

  async queue(name: string): Promise<Queue> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: await this.redis(), prefix: this.prefix });
      queue.on('error', () => {});
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
