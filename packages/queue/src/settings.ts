/**
 * Settings shared by every command, from a flag, the environment (DIFFQ_REDIS_URL, DIFFQ_STORE,
 * DIFFQ_PREFIX, DIFFQ_REDIS_TLS_CA, DIFFQ_REDIS_TLS_INSECURE, DIFFQ_CONFIG) or a JSON config file,
 * in that order of precedence: flag > environment > config file > built-in default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DEFAULT_PREFIX } from './queue-options.ts';
import type { RedisSettings } from './redis-connection.ts';

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
  const candidates = [
    resolve('diffq.config.json'),
    join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'diffq', 'config.json'),
  ];
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
    throw new Error(
      `--config ${file}: must be a JSON object of flag names to values, e.g. {"redis": "redis://host:6379", "store": "s3://bucket/runs"} (${(error as Error).message})`,
    );
  }
}

/**
 * Where defaults come from, resolved before yargs parses: the environment, then the config file
 * (--config, else DIFFQ_CONFIG, else the default file). Only the DIFFQ_* variables named in the
 * flags' help are read, so other DIFFQ_* variables (DIFFQ_S3_ENDPOINT, DIFFQ_BACKEND…) never
 * trip the strict flag check.
 */
export class SettingSources {
  readonly configFile: string | undefined;
  readonly config: Record<string, unknown>;
  private readonly consulted = new Set<string>(['config']);

  constructor(
    args: readonly string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const flagAt = args.findIndex((a) => a === '--config' || a.startsWith('--config='));
    const fromFlag = flagAt < 0 ? undefined : args[flagAt].includes('=') ? args[flagAt].slice('--config='.length) : args[flagAt + 1];
    this.configFile = fromFlag ?? (env.DIFFQ_CONFIG || undefined) ?? defaultConfigFile();
    this.config = this.configFile ? readConfigFile(this.configFile) : {};
  }

  /** The default of a flag: its environment variable, else the config file's `flag` key, else fallback. */
  value<T extends string | number | boolean | undefined>(flag: string, envVar: string | undefined, fallback: T): T {
    this.consulted.add(flag);
    const raw = envVar ? this.env[envVar] : undefined;
    if (raw !== undefined && raw !== '') {
      if (typeof fallback === 'number') {
        const n = Number(raw);
        if (!Number.isFinite(n)) throw new Error(`${envVar} is "${raw}"; accepted: a number (it sets --${flag})`);
        return n as T;
      }
      if (typeof fallback === 'boolean') return /^(1|true|yes)$/i.test(raw) as T;
      return raw as T;
    }
    return flag in this.config ? (this.config[flag] as T) : fallback;
  }

  /** Throws naming the config file's keys that set no setting of this command (a typo would pass silently). */
  assertNoUnknownKeys(): void {
    const unknown = Object.keys(this.config).filter((k) => !this.consulted.has(k));
    if (unknown.length > 0) {
      throw new Error(
        `--config ${this.configFile}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; accepted: ${[...this.consulted].filter((k) => k !== 'config').join(', ')}`,
      );
    }
  }
}

/** The global options, for both `diffq` and `diffq-worker`. */
export function withSettings<T>(y: Argv<T>, sources: SettingSources) {
  return (
    y
      // A flag given twice takes its last value (as most CLIs do), instead of becoming a list.
      .parserConfiguration({ 'duplicate-arguments-array': false })
      .option('redis', {
        alias: 'redis-url',
        type: 'string',
        default: sources.value('redis', 'DIFFQ_REDIS_URL', DEFAULT_REDIS_URL),
        describe: 'Redis URL: redis://[user:password@]host[:port][/db], rediss://… for TLS (env DIFFQ_REDIS_URL)',
        global: true,
      })
      .option('redis-tls-ca', {
        type: 'string',
        default: sources.value('redis-tls-ca', 'DIFFQ_REDIS_TLS_CA', undefined as string | undefined),
        describe: 'PEM file of the CA of a rediss:// server (env DIFFQ_REDIS_TLS_CA)',
        global: true,
      })
      .option('redis-tls-insecure', {
        type: 'boolean',
        default: sources.value('redis-tls-insecure', 'DIFFQ_REDIS_TLS_INSECURE', false),
        describe: 'accept any TLS certificate (test servers only; env DIFFQ_REDIS_TLS_INSECURE)',
        global: true,
      })
      .option('prefix', {
        type: 'string',
        default: sources.value('prefix', 'DIFFQ_PREFIX', DEFAULT_PREFIX),
        describe: 'BullMQ key prefix (env DIFFQ_PREFIX)',
        global: true,
      })
      .option('store', {
        type: 'string',
        default: sources.value('store', 'DIFFQ_STORE', DEFAULT_STORE),
        describe: 'object store of runs: file://<dir> or s3://bucket/prefix (env DIFFQ_STORE)',
        global: true,
      })
      .option('config', {
        type: 'string',
        default: sources.configFile,
        describe:
          'JSON file of defaults for any flag, {"flag-name": value} (env DIFFQ_CONFIG; default ./diffq.config.json or ~/.config/diffq/config.json)',
        global: true,
      })
  );
}

export function settingsFrom(argv: {
  redis: string;
  redisTlsCa?: string;
  redisTlsInsecure?: boolean;
  prefix: string;
  store: string;
}): Settings {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(argv.prefix))
    throw new Error(`--prefix "${argv.prefix}" must be 1 to 64 characters of A-Z, a-z, 0-9, "_" and "-"`);
  return {
    redis: { url: argv.redis, tlsCaFile: argv.redisTlsCa, tlsInsecure: argv.redisTlsInsecure },
    prefix: argv.prefix,
    store: argv.store,
  };
}
