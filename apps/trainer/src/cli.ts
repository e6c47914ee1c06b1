/**
 * The `diffq-train` command line.
 *   diffq-train --out models/mnist [--steps N] [--minutes M] [--batch-size B] [--lr X] [--resume] …
 *   diffq-train sample --model models/mnist --out sheet.png [--ddim-steps 50] [--guidance 1]
 *   diffq-train classifier --out models/mnist-classifier [--steps N] [--batch-size B] [--lr X] …
 * Exit codes: 0 done, 1 failed, 2 invalid arguments.
 */

import { UsageError } from '@diffq/contract';
import yargs from 'yargs';
import { CLASSIFIER_DEFAULTS, type ClassifierFlags, planClassifierTraining } from './classifier-flags.ts';
import { planTraining, TRAIN_DEFAULTS, type TrainFlags } from './train-flags.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (then training shows a progress bar there). */
  tty?: boolean;
}

const processIo: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), tty: process.stderr.isTTY };

function parser(argv: string[], io: Io, done: (code: number) => void) {
  return yargs(argv)
    .scriptName('diffq-train')
    .strict()
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError([message]);
    })
    .command(
      '$0',
      'train the MNIST diffusion model into a model directory',
      (y) =>
        y
          .option('out', {
            type: 'string',
            describe: 'model directory to write (model.json, weights.safetensors, train-state.safetensors)',
          })
          .option('steps', { type: 'number', describe: `train until this many updates in all (default ${TRAIN_DEFAULTS.steps})` })
          .option('minutes', { type: 'number', describe: 'wall-clock budget: stop and save when reached' })
          .option('batch-size', { type: 'number', describe: `images per update (default ${TRAIN_DEFAULTS.batchSize})` })
          .option('lr', { type: 'number', describe: `AdamW learning rate (default ${TRAIN_DEFAULTS.lr})` })
          .option('resume', { type: 'boolean', describe: 'continue from the checkpoint in --out' })
          .option('log-every', { type: 'number', describe: `log the loss every k steps (default ${TRAIN_DEFAULTS.logEvery})` })
          .option('checkpoint-minutes', { type: 'number', describe: `save every M minutes (default ${TRAIN_DEFAULTS.checkpointMinutes})` })
          .option('seed', {
            type: 'number',
            describe: `seed of initialisation, data order, timesteps and noise (default ${TRAIN_DEFAULTS.seed})`,
          })
          .option('ema-rate', { type: 'number', describe: `EMA decay (default ${TRAIN_DEFAULTS.emaRate})` })
          .option('class-dropout', {
            type: 'number',
            describe: `probability a label becomes the null label (default ${TRAIN_DEFAULTS.classDropout})`,
          })
          .option('grad-clip', {
            type: 'number',
            describe: `clip the gradient norm to this, 0 for none (default ${TRAIN_DEFAULTS.gradClip})`,
          })
          .option('weight-decay', { type: 'number', describe: `AdamW weight decay (default ${TRAIN_DEFAULTS.weightDecay})` })
          .option('images', { type: 'number', describe: 'train on the first N digits of the split only (all of it by default)' })
          .option('split', {
            type: 'string',
            describe: `digits to learn: train (the 8,000 outside the held-out reference) or all 10,000 (default ${TRAIN_DEFAULTS.split})`,
          })
          .option('num-channels', { type: 'number', describe: 'UNet base width (default 32)' })
          .option('channel-mult', { type: 'string', describe: 'width multiplier per level (default "1,2,2")' })
          .option('num-res-blocks', { type: 'number', describe: 'ResBlocks per level (default 1)' })
          .option('attention-resolutions', { type: 'string', describe: 'resolutions with attention (default "7")' })
          .option('noise-schedule', { type: 'string', describe: 'linear or cosine (default cosine)' })
          .option('diffusion-steps', { type: 'number', describe: 'diffusion steps T (default 1000)' })
          .option('input-perturbation', { type: 'number', describe: "DDPM-IP's γ (default 0.1)" })
          .option('threads', {
            type: 'number',
            describe: 'gradient threads besides the main one: each takes a slice of every minibatch (default: one per further core)',
          }),
      async (a) => done(await train(a, io, `diffq-train ${argv.join(' ')}`)),
    )
    .command(
      'sample',
      'sample a contact sheet from a model directory',
      (y) =>
        y
          .option('model', { type: 'string', demandOption: true, describe: 'model directory' })
          .option('out', { type: 'string', demandOption: true, describe: 'PNG file to write' })
          .option('labels', {
            type: 'string',
            default: '0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5',
            describe: 'digit of each tile (tile i uses seed i)',
          })
          .option('ddim-steps', { type: 'number', default: 50 })
          .option('guidance', { type: 'number', default: 1, describe: 'classifier-free guidance weight w' })
          .option('columns', { type: 'number', describe: 'tiles per row (default ⌈√n⌉)' })
          .option('scale', { type: 'number', default: 1, describe: 'enlarge the sheet k× (nearest neighbour)' }),
      async (a) => done(await sample(a, io)),
    )
    .command(
      'classifier',
      'train the MNIST feature network (mnist-classifier) on the 8,000 training digits',
      (y) =>
        y
          .option('out', { type: 'string', describe: 'model directory to write, e.g. models/mnist-classifier' })
          .option('steps', { type: 'number', describe: `updates in all (default ${CLASSIFIER_DEFAULTS.steps})` })
          .option('batch-size', { type: 'number', describe: `digits per update (default ${CLASSIFIER_DEFAULTS.batchSize})` })
          .option('lr', { type: 'number', describe: `peak AdamW learning rate (default ${CLASSIFIER_DEFAULTS.lr})` })
          .option('warmup-steps', {
            type: 'number',
            describe: `linear warm-up before the cosine decay (default ${CLASSIFIER_DEFAULTS.warmupSteps})`,
          })
          .option('weight-decay', { type: 'number', describe: `AdamW weight decay (default ${CLASSIFIER_DEFAULTS.weightDecay})` })
          .option('ema-rate', { type: 'number', describe: `EMA decay of the saved weights (default ${CLASSIFIER_DEFAULTS.emaRate})` })
          .option('max-shift', { type: 'number', describe: `random shift in pixels (default ${CLASSIFIER_DEFAULTS.maxShift})` })
          .option('max-rotation', { type: 'number', describe: `random rotation in degrees (default ${CLASSIFIER_DEFAULTS.maxRotation})` })
          .option('max-scale', { type: 'number', describe: `random scaling ±fraction (default ${CLASSIFIER_DEFAULTS.maxScale})` })
          .option('seed', {
            type: 'number',
            describe: `seed of initialisation, order and distortions (default ${CLASSIFIER_DEFAULTS.seed})`,
          })
          .option('log-every', { type: 'number', describe: `log progress every k steps (default ${CLASSIFIER_DEFAULTS.logEvery})` })
          .option('images', { type: 'number', describe: 'train on the first N training digits only (all 8,000 by default)' })
          .option('stage-channels', {
            type: 'string',
            describe: `conv channels per stage (default "${CLASSIFIER_DEFAULTS.stageChannels}")`,
          })
          .option('convs-per-stage', { type: 'number', describe: `3×3 convs per stage (default ${CLASSIFIER_DEFAULTS.convsPerStage})` })
          .option('hidden', { type: 'number', describe: `feature dimension (default ${CLASSIFIER_DEFAULTS.hidden})` }),
      async (a) => done(await trainClassifier(a, argv, io)),
    )
    .help();
}

async function trainClassifier(argv: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const flagNames = [
    'out',
    'steps',
    'batchSize',
    'lr',
    'warmupSteps',
    'weightDecay',
    'emaRate',
    'maxShift',
    'maxRotation',
    'maxScale',
    'seed',
    'logEvery',
    'images',
    'stageChannels',
    'convsPerStage',
    'hidden',
  ] as const;
  const flags: ClassifierFlags = Object.fromEntries(flagNames.map((k) => [k, argv[k]]));
  const plan = planClassifierTraining(flags);
  const { initBackend, describeBackend } = await import('@diffq/diffusion');
  const { runClassifierTraining } = await import('./classifier-run.ts');
  io.err(`${describeBackend(await initBackend())}\n`);
  await untilSignal(io, (signal) => runClassifierTraining(plan, `diffq-train ${args.join(' ')}`, (line) => io.out(`${line}\n`), signal));
  return 0;
}

/** Runs a training loop that stops (after its step, saving) on SIGINT or SIGTERM. */
async function untilSignal<T>(io: Io, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => {
    io.err('stopping after this step and saving…\n');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function train(argv: Record<string, unknown>, io: Io, command: string): Promise<number> {
  const flags: TrainFlags = {
    out: argv.out as string | undefined,
    steps: argv.steps as number | undefined,
    minutes: argv.minutes as number | undefined,
    batchSize: argv.batchSize as number | undefined,
    lr: argv.lr as number | undefined,
    resume: argv.resume as boolean | undefined,
    logEvery: argv.logEvery as number | undefined,
    checkpointMinutes: argv.checkpointMinutes as number | undefined,
    seed: argv.seed as number | undefined,
    emaRate: argv.emaRate as number | undefined,
    classDropout: argv.classDropout as number | undefined,
    gradClip: argv.gradClip as number | undefined,
    weightDecay: argv.weightDecay as number | undefined,
    images: argv.images as number | undefined,
    numChannels: argv.numChannels as number | undefined,
    channelMult: argv.channelMult as string | undefined,
    numResBlocks: argv.numResBlocks as number | undefined,
    attentionResolutions: argv.attentionResolutions as string | undefined,
    noiseSchedule: argv.noiseSchedule as string | undefined,
    diffusionSteps: argv.diffusionSteps as number | undefined,
    inputPerturbation: argv.inputPerturbation as number | undefined,
    threads: argv.threads as number | undefined,
    split: argv.split as string | undefined,
  };
  const plan = planTraining(flags);
  const { initBackend, describeBackend } = await import('@diffq/diffusion');
  const { runTraining } = await import('./train-run.ts');
  io.err(`${describeBackend(await initBackend())}\n`);
  const summary = await untilSignal(io, (signal) =>
    runTraining(plan, (line) => io.out(`${line}\n`), signal, io.tty ? (bar) => io.err(`\r${bar}`) : undefined, command),
  );
  io.out(
    `done: step ${summary.step} (${summary.stepsRun} this run) in ${summary.seconds.toFixed(0)} s, stopped by ${summary.stoppedBy}` +
      `${summary.lastLoss === null ? '' : `, last loss ${summary.lastLoss.toFixed(4)}`}\n`,
  );
  return 0;
}

async function sample(argv: Record<string, unknown>, io: Io): Promise<number> {
  const labels = String(argv.labels)
    .split(',')
    .map((s) => Number(s.trim()));
  const problems: string[] = [];
  if (labels.some((l) => !Number.isInteger(l) || l < 0))
    problems.push(`--labels is ${JSON.stringify(argv.labels)}; accepted: comma-separated class indices ≥ 0`);
  const ddimSteps = argv.ddimSteps as number;
  if (!Number.isInteger(ddimSteps) || ddimSteps < 2 || ddimSteps > 1000)
    problems.push(`--ddim-steps is ${ddimSteps}; accepted: an integer in [2, 1000]`);
  const guidance = argv.guidance as number;
  if (!(guidance >= 0 && guidance <= 100)) problems.push(`--guidance is ${guidance}; accepted: a number in [0, 100]`);
  const scale = argv.scale as number;
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) problems.push(`--scale is ${scale}; accepted: an integer in [1, 16]`);
  if (problems.length > 0) throw new UsageError(problems);
  const { initBackend } = await import('@diffq/diffusion');
  await initBackend();
  const { sampleSheet } = await import('./sample-sheet.ts');
  const { seconds } = await sampleSheet({
    model: String(argv.model),
    out: String(argv.out),
    labels,
    ddimSteps,
    guidance,
    columns: argv.columns as number | undefined,
    scale,
  });
  io.out(`wrote ${argv.out}: ${labels.length} samples, DDIM ${ddimSteps} steps, guidance ${guidance}, ${seconds.toFixed(1)} s\n`);
  return 0;
}

export async function main(args: string[], io: Io = processIo): Promise<number> {
  let code = 0;
  try {
    await parser(args, io, (c) => {
      code = c;
    }).parseAsync();
  } catch (e) {
    io.err(`diffq-train: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
  return code;
}
