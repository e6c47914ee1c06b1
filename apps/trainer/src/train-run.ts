/**
 * The training run: load the digits, start or resume a DiffusionTrainer, step until the step count
 * or the wall-clock budget is reached (or SIGINT/SIGTERM), log the loss every k steps and save a
 * checkpoint every few minutes and at the end.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MNIST_SIDE, mnistDigits } from '@diffq/datasets';
import { checkpointFiles, DiffusionTrainer, type ImageDataset, type ModelSpec } from '@diffq/trainer';
import { loadCheckpoint, saveCheckpoint } from './checkpoint-dir.ts';
import { defaultGradientThreads, ThreadGradientPool } from './gradient-pool.ts';
import { MNIST_NULL_LABEL } from './mnist-model.ts';
import { formatProgress } from './progress-bar.ts';
import type { TrainPlan, UnetSplit } from './train-flags.ts';

/** Beside the checkpoint: every run's command and settings, and every line any run logged. */
export const UNET_CONFIG_FILE = 'train-config.json';
export const UNET_LOG_FILE = 'train.log';

export type RunLog = (line: string) => void;

export interface RunSummary {
  /** Updates in all (a resumed run counts the checkpoint's). */
  step: number;
  /** Updates this run made. */
  stepsRun: number;
  /** Mean loss of the last logging window. */
  lastLoss: number | null;
  stoppedBy: 'steps' | 'minutes' | 'signal';
  seconds: number;
}

/** Mean loss per quarter of the timestep range (guided-diffusion's loss_q0…q3), from one window's samples. */
class LossWindow {
  readonly #sum = [0, 0, 0, 0];
  readonly #count = [0, 0, 0, 0];
  #total = 0;
  #n = 0;

  add(losses: Float32Array, t: Int32Array, numTimesteps: number): void {
    for (let i = 0; i < losses.length; i++) {
      const q = Math.min(3, Math.floor((4 * t[i]) / numTimesteps));
      this.#sum[q] += losses[i];
      this.#count[q] += 1;
      this.#total += losses[i];
      this.#n += 1;
    }
  }

  mean(): number {
    return this.#total / this.#n;
  }

  quartiles(): string {
    return this.#sum.map((s, q) => `q${q} ${this.#count[q] ? (s / this.#count[q]).toFixed(4) : '-'}`).join(' ');
  }
}

/**
 * The UNet's training digits: the `train` split (the 8,000 outside the held-out reference, so FID
 * against the held-out digits measures generalisation, not recall) or `all` 10,000; the first `limit`
 * of them in round-robin class order.
 */
export async function unetTrainingDigits(split: UnetSplit, limit?: number): Promise<ImageDataset> {
  const digits = await mnistDigits(split);
  const count = Math.min(limit ?? digits.count, digits.count);
  const size = MNIST_SIDE * MNIST_SIDE;
  // One channel: the NHWC bytes are also the trainer's [count, C, H, W] layout.
  return {
    pixels: digits.images.subarray(0, count * size),
    labels: digits.labels.subarray(0, count),
    imageShape: [1, MNIST_SIDE, MNIST_SIDE],
    count,
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

async function startTrainer(plan: TrainPlan, data: ImageDataset, log: RunLog): Promise<DiffusionTrainer> {
  if (!plan.resume) {
    const spec: ModelSpec = { model: { ...plan.model }, diffusion: { ...plan.diffusion }, nullLabel: MNIST_NULL_LABEL };
    return DiffusionTrainer.create(spec, data, plan.settings);
  }
  const saved = await loadCheckpoint(plan.out);
  const settings = { ...plan.settings, seed: saved.settings?.seed ?? plan.settings.seed };
  log(
    `resuming ${plan.out} at step ${saved.step}${saved.m ? '' : ' (no train-state.safetensors: from the EMA weights, AdamW moments reset)'}`,
  );
  return DiffusionTrainer.resume(saved.spec, data, settings, saved);
}

/** Starts the gradient threads of a data-parallel run, or none (threads 0, or one core). */
async function startPool(plan: TrainPlan, trainer: DiffusionTrainer, log: RunLog): Promise<ThreadGradientPool | undefined> {
  const threads = Math.min(plan.threads ?? defaultGradientThreads(), plan.settings.batchSize - 1);
  if (threads < 1) return undefined;
  const pool = await ThreadGradientPool.start(threads, {
    model: trainer.spec.model,
    diffusion: trainer.spec.diffusion,
    imageShape: trainer.data.imageShape,
  });
  log(`data-parallel: each minibatch of ${plan.settings.batchSize} split between this thread and ${threads} gradient thread(s)`);
  return pool;
}

/**
 * Trains until plan.steps, plan.budgetMs or the signal; `progress` (a terminal) gets the progress bar
 * after every step, `log` a line every plan.logEvery steps.
 */
export async function runTraining(
  plan: TrainPlan,
  log: RunLog,
  signal?: AbortSignal,
  progress?: (bar: string) => void,
  command = 'diffq-train',
): Promise<RunSummary> {
  const started = Date.now();
  const print = log;
  const logPath = join(plan.out, UNET_LOG_FILE);
  await mkdir(plan.out, { recursive: true });
  // A resumed run continues the log; a fresh one starts it over.
  if (!plan.resume) await writeFile(logPath, '');
  let logged = Promise.resolve();
  log = (line: string) => {
    print(line);
    logged = logged.then(() => appendFile(logPath, `${line}\n`));
  };
  const data = await unetTrainingDigits(plan.split, plan.images ?? undefined);
  const trainer = await startTrainer(plan, data, log);
  await recordRun(plan, command).catch((error) => {
    trainer.dispose();
    throw error;
  });
  const pool = await startPool(plan, trainer, log).catch((error) => {
    trainer.dispose();
    throw error;
  });
  const firstStep = trainer.step;
  const save = async (why: string) => {
    const t0 = Date.now();
    await saveCheckpoint(plan.out, checkpointFiles(trainer, { trainer: 'diffq-train', images: String(data.count), split: plan.split }));
    log(`checkpoint step ${trainer.step} → ${plan.out} (${why}, ${Date.now() - t0} ms)`);
  };
  try {
    const s = plan.settings;
    log(
      `training ${data.count} digits (${plan.split} split), batch ${s.batchSize}, lr ${s.lr}, ema ${s.emaRate}, class dropout ${s.classDropout}, grad clip ${s.gradClip ?? 'off'}, seed ${s.seed}; ` +
        `until step ${plan.steps}${plan.budgetMs === null ? '' : ` or ${duration(plan.budgetMs)}`}`,
    );
    let window = new LossWindow();
    let windowStart = Date.now();
    let windowSteps = 0;
    let lastSave = Date.now();
    let lastLoss: number | null = null;
    let stoppedBy: RunSummary['stoppedBy'] = 'steps';
    let stepsPerSecond = 0;
    while (trainer.step < plan.steps) {
      if (plan.budgetMs !== null && Date.now() - started >= plan.budgetMs) {
        stoppedBy = 'minutes';
        break;
      }
      if (signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      const stepStart = Date.now();
      const r = pool ? await trainer.trainStepParallel(pool) : trainer.trainStep();
      stepsPerSecond =
        stepsPerSecond === 0 ? 1000 / (Date.now() - stepStart) : 0.9 * stepsPerSecond + 100 / Math.max(1, Date.now() - stepStart);
      if (!Number.isFinite(r.loss)) {
        throw new Error(
          `loss is ${r.loss} at step ${r.step}; the last checkpoint in ${plan.out} is kept. Try a lower --lr or --grad-clip 1`,
        );
      }
      window.add(r.losses, r.t, trainer.process.numTimesteps);
      windowSteps += 1;
      progress?.(
        formatProgress({
          step: r.step,
          steps: plan.steps,
          firstStep,
          loss: lastLoss,
          stepsPerSecond,
          elapsedMs: Date.now() - started,
          budgetMs: plan.budgetMs,
        }),
      );
      if (r.step % plan.logEvery === 0) {
        const secPerStep = (Date.now() - windowStart) / 1000 / windowSteps;
        lastLoss = window.mean();
        log(
          `step ${r.step}  loss ${lastLoss.toFixed(4)}  (${window.quartiles()})  ${secPerStep.toFixed(2)} s/step  ${(s.batchSize / secPerStep).toFixed(1)} img/s  ${duration(Date.now() - started)}`,
        );
        window = new LossWindow();
        windowStart = Date.now();
        windowSteps = 0;
      }
      if (Date.now() - lastSave >= plan.checkpointMs) {
        await save('periodic');
        lastSave = Date.now();
      }
      // Lets SIGINT / SIGTERM handlers run between steps (a step is synchronous).
      await new Promise((resolve) => setImmediate(resolve));
    }
    await save(`stopped by ${stoppedBy}`);
    return { step: trainer.step, stepsRun: trainer.step - firstStep, lastLoss, stoppedBy, seconds: (Date.now() - started) / 1000 };
  } finally {
    await pool?.close();
    trainer.dispose();
    await logged;
  }
}

/** Appends this run (its command, from which step, and its settings) to train-config.json's `runs`. */
async function recordRun(plan: TrainPlan, command: string): Promise<void> {
  const path = join(plan.out, UNET_CONFIG_FILE);
  let runs: unknown[] = [];
  if (plan.resume) {
    try {
      const previous = JSON.parse(await readFile(path, 'utf8')) as { runs?: unknown[] };
      runs = Array.isArray(previous.runs) ? previous.runs : [];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${path}: ${(e as Error).message}`);
    }
  }
  const { out: _out, resume, settings, split, images, steps, budgetMs, threads, model, diffusion } = plan;
  runs.push({
    command,
    startedAt: new Date().toISOString(),
    resume,
    split,
    images,
    untilStep: steps,
    minutes: budgetMs === null ? null : budgetMs / 60_000,
    threads,
    settings,
    ...(resume ? {} : { model, diffusion }),
  });
  await writeFile(path, `${JSON.stringify({ runs }, null, 2)}\n`);
}
