/**
 * A whole fleet as separate processes, for the dashboard and Prometheus tests: a private
 * redis-server (so these files need none of the shared Redis databases), the small model, worker
 * processes and `diffq dashboard` started through its command line, each stopped at cleanup.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PrivateRedis, startPrivateRedis } from '../../apps/producer/src/private-redis.ts';
import { REPO, runDiffq, smallModel } from './harness.ts';

const WORKER_BIN = join(REPO, 'apps', 'worker', 'bin', 'diffq-worker.js');
const DIFFQ_BIN = join(REPO, 'apps', 'producer', 'bin', 'diffq.js');

export interface FleetProcess {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function start(bin: string, args: string[], cwd: string): FleetProcess {
  const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

export class FleetEnv {
  redis!: PrivateRedis;
  dir!: string;
  model!: string;
  storeUrl!: string;
  private readonly processes: FleetProcess[] = [];

  constructor(readonly prefix: string) {}

  /** redis and prefix flags of every command. */
  get flags(): string[] {
    return ['--redis', this.redis.url, '--prefix', this.prefix];
  }

  async setUp(): Promise<void> {
    this.redis = await startPrivateRedis();
    this.dir = mkdtempSync(join(tmpdir(), `diffq-${this.prefix}-`));
    this.storeUrl = `file://${join(this.dir, 'runs')}`;
    this.model = await smallModel(this.dir);
  }

  async launch(runId: string, flags: string[]): Promise<void> {
    const result = await runDiffq(['launch', ...this.flags, '--store', this.storeUrl, '--model', this.model, '--run-id', runId, ...flags]);
    assert.equal(result.code, 0, result.err);
  }

  /** `diffq-worker` on the small model, one thread. */
  worker(args: string[]): FleetProcess {
    const p = start(WORKER_BIN, ['--model', this.model, ...this.flags, '--threads', '1', ...args], this.dir);
    this.processes.push(p);
    return p;
  }

  /** `diffq dashboard --port 0 …`; resolves with its URL once it listens. */
  async dashboard(args: string[] = []): Promise<{ url: string; process: FleetProcess }> {
    const p = start(DIFFQ_BIN, ['dashboard', ...this.flags, '--store', this.storeUrl, '--port', '0', ...args], this.dir);
    this.processes.push(p);
    const started = Date.now();
    for (;;) {
      const url = /diffq dashboard: (http:\/\/\S+?)\/ /.exec(p.log())?.[1];
      if (url) return { url, process: p };
      if (p.child.exitCode !== null || Date.now() - started > 30_000) throw new Error(`diffq dashboard did not start: ${p.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async cleanup(): Promise<void> {
    for (const p of this.processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
    await this.redis?.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
