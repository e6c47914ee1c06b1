/**
 * Redis connections from a URL: redis://[user:password@]host[:port][/db] or rediss://… for TLS.
 * The CLI fails fast when Redis is unreachable; a worker rides out a Redis restart by reconnecting
 * forever (BullMQ requires maxRetriesPerRequest: null for the blocking connection of a Worker); a
 * server (the dashboard, the exporter) reconnects forever too, but fails each request made while
 * Redis is away after one reconnection attempt, so that it answers 503 instead of hanging.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisSettings {
  /** redis://… or rediss://… */
  url: string;
  /** PEM file of the CA that signed the server's certificate (rediss:// with a private CA). */
  tlsCaFile?: string;
  /** Skip certificate verification (self-signed test servers only). */
  tlsInsecure?: boolean;
}

export type RedisRole = 'cli' | 'worker' | 'server';

/** Reconnection backoff of the long-lived roles: 250 ms more per attempt, at most 5 s. */
const reconnectDelay = (times: number) => Math.min(250 * times, 5000);

/** Checks a Redis URL; the error names the flag and the accepted form. */
export function checkRedisUrl(url: string, flag = '--redis'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${flag} "${url}" is not a URL; accepted: redis://[user:password@]host[:port][/db] or rediss://… for TLS`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`${flag} "${url}" has scheme ${parsed.protocol.replace(':', '')}; accepted: redis:// or rediss:// (TLS)`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^([0-9]|1[0-5]|[1-9][0-9]{1,3})$/.test(db)) {
    throw new Error(`${flag} "${url}": database "${db}" must be an integer index such as /0 … /15`);
  }
  return parsed;
}

/** The URL with its password replaced by "***", for logs and error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

export function openRedis(settings: RedisSettings, role: RedisRole): Redis {
  const parsed = checkRedisUrl(settings.url);
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, retryStrategy: reconnectDelay }
      : role === 'server'
        ? { maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: reconnectDelay }
        : { maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (times) => (times > 3 ? null : 200 * times) };
  if (parsed.protocol === 'rediss:') {
    options.tls = {
      ...(settings.tlsCaFile ? { ca: readFileSync(settings.tlsCaFile) } : {}),
      ...(settings.tlsInsecure ? { rejectUnauthorized: false } : {}),
    };
  }
  const client = new Redis(settings.url, options);
  // Errors surface through the commands that hit them; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  return client;
}

/**
 * Pings Redis and turns a connection failure into one sentence with the (redacted) URL and the
 * socket's own reason (ECONNREFUSED, ENOTFOUND…), not the client's retry bookkeeping.
 */
export async function assertReachable(client: Redis, url: string): Promise<void> {
  let cause: Error | undefined;
  const remember = (error: Error) => {
    cause = error;
  };
  client.on('error', remember);
  try {
    await client.ping();
  } catch (error) {
    throw new Error(`cannot reach Redis at ${redactRedisUrl(url)}: ${(cause ?? (error as Error)).message}; set --redis or DIFFQ_REDIS_URL`);
  } finally {
    client.off('error', remember);
  }
}

/**
 * Logs one line when a working connection is lost and one when it is back, however many attempts
 * the reconnection takes in between (each failed attempt is an 'error' event, several a second).
 */
export function logOutages(client: Redis, url: string, log: (line: string) => void): void {
  let ready = client.status === 'ready';
  let lostAt: number | undefined;
  let reason: string | undefined;
  client.on('error', (error: Error) => {
    reason ??= (error as NodeJS.ErrnoException).code ?? error.message;
  });
  client.on('close', () => {
    if (!ready || lostAt !== undefined) return;
    lostAt = Date.now();
    log(`Redis connection to ${redactRedisUrl(url)} lost${reason ? ` (${reason})` : ''}; reconnecting with backoff (at most 5 s apart)`);
  });
  client.on('ready', () => {
    ready = true;
    reason = undefined;
    if (lostAt === undefined) return;
    log(`Redis connection to ${redactRedisUrl(url)} back after ${((Date.now() - lostAt) / 1000).toFixed(1)} s`);
    lostAt = undefined;
  });
}
