/**
 * One simulated worker of bench/scale.ts, as its own process: the real startWorker with a
 * SleepingDenoiser. Prints "ready" once it serves its queue; stops on SIGTERM.
 * Usage: node --import tsx bench/scale-worker.ts '<ScaleWorkerConfig as JSON>'
 */
import { startWorker } from '@diffq/worker';
import { SleepingDenoiser } from './sleeping-denoiser.ts';

export interface ScaleWorkerConfig {
  redisUrl: string;
  prefix: string;
  model: string;
  batchSize: number;
  msPerSample: number;
  workerId: string;
}

const config = JSON.parse(process.argv[2]) as ScaleWorkerConfig;
const worker = await startWorker({
  redis: { url: config.redisUrl },
  prefix: config.prefix,
  model: config.model,
  batchSize: config.batchSize,
  workerId: config.workerId,
  denoiser: async (directory) => {
    const engine = new SleepingDenoiser(directory, config.msPerSample);
    return { engine, why: engine.description };
  },
  // Only failures matter here; a line per shard from 64 workers would only cost the parent CPU.
  log: (line) => {
    if (/fail|error|stopped:/i.test(line)) process.stderr.write(`${line}\n`);
  },
});
// CPU seconds spent serving (from ready to SIGTERM), so the bench can tell when the fleet's own
// work, not the queue, fills the cores.
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const readyCpu = cpuSeconds();
process.once('SIGTERM', () => {
  process.stdout.write(`cpu ${cpuSeconds() - readyCpu}\n`);
  void worker.close('now').then(() => process.exit(0));
});
process.stdout.write('ready\n');
