/**
 * The Redis the benchmarks use: DIFFQ_TEST_REDIS (default redis://127.0.0.1:6379), like the tests,
 * in databases no test uses (the tests own 4–15). Each bench flushes only its own database.
 * INFO figures (commands, bytes, CPU) are the whole server's: on a Redis others use, they include
 * their traffic too.
 */
import type { Redis } from 'ioredis';
import { testRedisUrl } from '../test/fixtures/test-redis.ts';

export const BENCH_DB = { pipeline: 1, scale: 2, launch: 3, packing: 1, memory: 1 } as const;

export function benchRedisUrl(bench: keyof typeof BENCH_DB): string {
  return testRedisUrl(BENCH_DB[bench]);
}

export interface RedisCounters {
  commands: number;
  /** Bytes the server read from and wrote to its clients. */
  bytesIn: number;
  bytesOut: number;
  /** Server CPU seconds (user + system). */
  cpuSeconds: number;
  /** Calls per command name (INFO commandstats). */
  calls: Map<string, number>;
}

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
  if (!match) throw new Error(`Redis INFO has no ${name}`);
  return Number(match[1]);
}

export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [stats, cpu, commandstats] = await Promise.all([redis.info('stats'), redis.info('cpu'), redis.info('commandstats')]);
  const calls = new Map<string, number>();
  for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]));
  return {
    commands: field(stats, 'total_commands_processed'),
    bytesIn: field(stats, 'total_net_input_bytes'),
    bytesOut: field(stats, 'total_net_output_bytes'),
    cpuSeconds: field(cpu, 'used_cpu_sys') + field(cpu, 'used_cpu_user'),
    calls,
  };
}

/** after − before, field by field. */
export function counterDelta(before: RedisCounters, after: RedisCounters): RedisCounters {
  const calls = new Map<string, number>();
  for (const [name, n] of after.calls) calls.set(name, n - (before.calls.get(name) ?? 0));
  return {
    commands: after.commands - before.commands,
    bytesIn: after.bytesIn - before.bytesIn,
    bytesOut: after.bytesOut - before.bytesOut,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    calls,
  };
}
