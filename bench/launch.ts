/**
 * `diffq launch` as a user runs it: a fresh process per launch, wall time from spawn to exit, its
 * CPU time and peak RSS (read by a preload in the child when it exits), for 50,000 and 1,000,000
 * seeds in shards of 256, run from the TypeScript sources (tsx) and from the bundle `npm run
 * build:cli` writes (which the bench builds first). Beside them, the floor every command pays: a
 * bare `node` and `diffq --help`. Target for 1,000,000 seeds: < 1 s, < 200 MB.
 *
 * Options: --rounds 3 (launches per size; the median is printed)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { freshBuild } from '../apps/producer/bin/fresh-build.js';
import { buildCli } from '../apps/producer/scripts/build-cli.ts';
import { MNIST_MODEL } from './bench-models.ts';
import { benchRedisUrl } from './bench-redis.ts';
import { loadLine, numberOption } from './options.ts';

const BIN = resolve(import.meta.dirname, '..', 'apps', 'producer', 'bin', 'diffq.js');
const TARGET = { seconds: 1, mb: 200 };
/**
 * Loaded into the child with --import: reports its CPU time and peak RSS as it exits. The peak is
 * /proc's VmHWM, the high-water mark of the process's own memory since its exec; getrusage's maxrss
 * would include the forking parent's RSS (Linux keeps it across exec).
 */
const REPORTER = `data:text/javascript,import{readFileSync}from'node:fs';process.on('exit',()=>{const u=process.resourceUsage();let kb=u.maxRSS;try{kb=Number(/VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status','utf8'))[1])}catch{}process.stderr.write('\\nrusage '+JSON.stringify({cpu:(u.userCPUTime+u.systemCPUTime)/1e6,rssMb:kb/1024})+'\\n')})`;

interface Measured {
  seconds: number;
  cpu: number;
  rssMb: number;
  out: string;
}

const DIST = new URL('../apps/producer/dist/', import.meta.url);

type From = 'sources' | 'bundle';

async function run(args: string[], from: From = 'sources'): Promise<Measured> {
  // Other edits to the sources make the bundle stale, and the CLI would silently take the sources.
  if (from === 'bundle' && !freshBuild(DIST)) await buildCli();
  const start = performance.now();
  const child = spawn(process.execPath, ['--import', REPORTER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DIFFQ_FROM_SOURCE: from === 'sources' ? '1' : '0' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  return new Promise((resolvePromise, reject) =>
    child.once('close', (code) => {
      const seconds = (performance.now() - start) / 1000;
      const usage = /rusage (\{.*\})/.exec(err);
      if (code !== 0 || !usage) return reject(new Error(`${args.join(' ')} exited ${code}: ${err}`));
      const { cpu, rssMb } = JSON.parse(usage[1]) as { cpu: number; rssMb: number };
      resolvePromise({ seconds, cpu, rssMb, out });
    }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function line(what: string, runs: Measured[]): Measured {
  const m = {
    seconds: median(runs.map((r) => r.seconds)),
    cpu: median(runs.map((r) => r.cpu)),
    rssMb: median(runs.map((r) => r.rssMb)),
    out: '',
  };
  console.log(
    `launch: ${what.padEnd(34)} ${m.seconds.toFixed(2).padStart(6)} s wall ${m.cpu.toFixed(2).padStart(6)} s CPU ${m.rssMb.toFixed(0).padStart(5)} MB peak RSS`,
  );
  return m;
}

export async function benchLaunch(): Promise<void> {
  const rounds = numberOption('rounds', 3, 1);
  const redisUrl = benchRedisUrl('launch');
  const redis = new Redis(redisUrl);
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-launch-'));
  try {
    console.log(`launch: fresh processes, median of ${rounds}; model ${MNIST_MODEL}; Redis ${redisUrl}`);
    const floor: Measured[] = [];
    for (let r = 0; r < rounds; r++) floor.push(await run(['-e', '']));
    line('node -e "" (the floor)', floor);
    let million: Measured | undefined;
    for (const from of ['sources', 'bundle'] as const) {
      const help: Measured[] = [];
      for (let r = 0; r < rounds; r++) help.push(await run([BIN, '--help'], from));
      line(`diffq --help, from the ${from}`, help);
      for (const seeds of [50_000, 1_000_000]) {
        const runs: Measured[] = [];
        for (let r = 0; r < rounds; r++) {
          await redis.flushdb();
          const store = `file://${join(dir, `runs-${from}-${seeds}-${r}`)}`;
          const args = [BIN, 'launch', '--redis', redisUrl, '--prefix', 'bench-launch', '--store', store, '--model', MNIST_MODEL];
          const m = await run([...args, '--seeds', `0-${seeds - 1}`, '--steps', '50', '--run-id', `launch-${r}`, '--json'], from);
          const result = JSON.parse(m.out) as { shards: number; added: number };
          if (result.added !== result.shards + 1)
            throw new Error(`launch of ${seeds} seeds added ${result.added} jobs for ${result.shards} shards`);
          runs.push(m);
        }
        const m = line(`diffq launch, ${seeds.toLocaleString('en')} seeds (${Math.ceil(seeds / 256)} shards), from the ${from}`, runs);
        if (seeds === 1_000_000 && from === 'bundle') million = m;
      }
    }
    // What bounds a launch is BullMQ's client work per job: the same 1,000,000 seeds in a quarter of
    // the jobs show it (a fleet that launches runs this size picks shards to match its batch size).
    const wide: Measured[] = [];
    for (let r = 0; r < rounds; r++) {
      await redis.flushdb();
      const store = `file://${join(dir, `runs-wide-${r}`)}`;
      const args = [BIN, 'launch', '--redis', redisUrl, '--prefix', 'bench-launch', '--store', store, '--model', MNIST_MODEL];
      wide.push(
        await run([...args, '--seeds', '0-999999', '--shard-size', '1024', '--steps', '50', '--run-id', `wide-${r}`, '--json'], 'bundle'),
      );
    }
    line(`diffq launch, 1,000,000 seeds (${Math.ceil(1_000_000 / 1024)} shards of 1024), from the bundle`, wide);
    if (million) {
      const met = million.seconds < TARGET.seconds && million.rssMb < TARGET.mb;
      console.log(
        `launch of 1,000,000 seeds: ${million.seconds.toFixed(2)} s, ${million.rssMb.toFixed(0)} MB from the bundle (target < ${TARGET.seconds} s and < ${TARGET.mb} MB: ${met ? 'met' : 'NOT met'})`,
      );
    }
    console.log(`launch: ${loadLine()}`);
  } finally {
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}
