/**
 * A throw-away Redis for `diffq demo` on a machine where Redis is installed but not running: its own
 * `redis-server` child on a free loopback port, no persistence, no data directory left behind, and
 * stopped when the demo ends (also on Ctrl-C). Nothing else in diffq starts servers: a fleet's Redis
 * is infrastructure, and a run must not depend on one process's lifetime.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateRedis {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Stops the server and removes its working directory; safe to call twice. */
  stop(): Promise<void>;
}

/** Whether `redis-server` can be run from PATH (the command prints its version and exits). */
export function redisServerInstalled(command = 'redis-server'): boolean {
  const probe = spawnSync(command, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/** A loopback host: the only kind of URL the demo replaces by a private server. */
export function isLoopbackRedis(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1';
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Runs `command` (a redis-server) with `args` and resolves with the child once it accepts
 * connections (it prints "Ready to accept connections"); when it does not start, stops the child and
 * rejects with the server's own words. The test fixture that restarts Redis on one port starts its
 * server through this too.
 */
export async function spawnRedisServer(command: string, args: string[], timeoutMs = 10_000): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start within ${timeoutMs} ms: ${output.trim().slice(-400)}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with code ${code}: ${output.trim().slice(-400)}`));
      });
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
    throw error;
  }
  // Once up, the server's output is of no interest; keep the pipes drained.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1 and resolves once it accepts connections;
 * rejects with the server's own words when it does not start.
 */
export async function startPrivateRedis(command = 'redis-server', timeoutMs = 10_000): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'diffq-redis-'));
  let child: ChildProcess;
  try {
    child = await spawnRedisServer(
      command,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir],
      timeoutMs,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
