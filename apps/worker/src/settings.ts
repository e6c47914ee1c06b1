/**
 * Settings shared by every command, from a flag, the environment (DIFFQ_REDIS_URL, DIFFQ_STORE,
 * DIFFQ_PREFIX, DIFFQ_REDIS_TLS_CA, DIFFQ_REDIS_TLS_INSECURE, DIFFQ_CONFIG) or a JSON config file,
 * in that order of precedence (yargs: flag > env > config file > default).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_PREFIX } from './queue-options.ts';
import type { RedisSettings } from './redis-connection.ts';
import type { Argv } from 'yargs';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_STORE = 'file://./runs';

export interface Settings {
  redis: RedisSettings;
  /** BullMQ key prefix: isolates deployments (or tests) sharing one Redis. */
  prefix: string;
  /** Default store of new runs. */
  store: string;
}

/** ./diffq.config.json, else $XDG_CONFIG_HOME/diffq/config.json (~/.config/…), if one exists. */
export function defaultConfigFile(): string | undefined {
  const candidates = [resolve('diffq.config.json'), join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'diffq', 'config.json')];
  return candidates.find((file) => existsSync(file));
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new Error(`--config ${file}: must be a JSON object of flag names to values, e.g. {"redis": "redis://host:6379", "store": "s3://bucket/runs"} (${(error as Error).message})`);
  }
}

/** The global options, for both `diffq` and `diffq-worker`. */
export function withSettings<T>(y: Argv<T>) {
  return y
    .env('DIFFQ')
    .option('redis', {
      alias: 'redis-url',
      type: 'string',
      default: DEFAULT_REDIS_URL,
      describe: 'Redis URL: redis://[user:password@]host[:port][/db], rediss://… for TLS (env DIFFQ_REDIS_URL)',
      global: true,
    })
    .option('redis-tls-ca', { type: 'string', describe: 'PEM file of the CA of a rediss:// server (env DIFFQ_REDIS_TLS_CA)', global: true })
    .option('redis-tls-insecure', { type: 'boolean', default: false, describe: 'accept any TLS certificate (test servers only)', global: true })
    .option('prefix', { type: 'string', default: DEFAULT_PREFIX, describe: 'BullMQ key prefix (env DIFFQ_PREFIX)', global: true })
    .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'object store of runs: file://<dir> or s3://bucket/prefix (env DIFFQ_STORE)', global: true })
    .option('config', {
      type: 'string',
      describe: 'JSON file of defaults for any flag (env DIFFQ_CONFIG; default ./diffq.config.json or ~/.config/diffq/config.json)',
      global: true,
    })
    .config('config', (file: string) => readConfigFile(file))
    .default('config', defaultConfigFile(), defaultConfigFile() ?? 'none');
}

export function settingsFrom(argv: { redis: string; redisTlsCa?: string; redisTlsInsecure?: boolean; prefix: string; store: string }): Settings {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(argv.prefix)) throw new Error(`--prefix "${argv.prefix}" must be 1 to 64 characters of A-Z, a-z, 0-9, "_" and "-"`);
  return {
    redis: { url: argv.redis, tlsCaFile: argv.redisTlsCa, tlsInsecure: argv.redisTlsInsecure },
    prefix: argv.prefix,
    store: argv.store,
  };
}
