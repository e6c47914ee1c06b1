/**
 * DDIM against the multistep ODE solvers (DPM-Solver++ 2M and 3M, UniPC bh2), each with x̂₀ clipped to
 * [−1, 1] and without, on the shipped MNIST model (models/mnist) with the demo's guidance
 * (classifier-free, w = 3, balanced labels): the same seeds and labels for every sampler, at 5, 10, 20
 * and 50 steps. Prints the wall time of each and, when the MNIST classifier features exist
 * (models/mnist-classifier with heldout-stats.npz), the FID against held-out MNIST digits; draws FID
 * (else ms per sample) against steps to docs/solvers.png, a sampler's clipped and unclipped runs in one
 * colour (unclipped thin).
 * Options: --samples N (default 1000; --quick 100), --steps 5,10,20,50, --batch B (default 100),
 * --samplers (default ddim,ddim-noclip,dpm++2m,dpm++2m-noclip,unipc,unipc-noclip; also dpm++3m,
 * dpm++3m-noclip and dpm++2m-dt: unclipped with dynamic thresholding), or instead of both --configs
 * ddim:20,dpm++2m:10 (chosen sampler:steps pairs, for a run that cannot afford the whole grid),
 * --seed-sets K (default 1: each point on K disjoint sets of N seeds, 0…N−1, N…2N−1, …, giving every
 * FID's run-to-run spread: mean, standard deviation, min–max), --engine auto|onnx|tfjs (default auto),
 * --chart <path> (default docs/solvers.png; "none" for no chart), --from-log <file> (redraw the chart and
 * summary from the output of an earlier run, sampling nothing).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeStatsNpz, encodePng } from '@diffq/codecs';
import { createProcess, type DiffusionConfig, labelsFor, parseDiffusionConfig, type SamplerSettings } from '@diffq/diffusion';
import { featureStats, frechetDistance, type GaussianStats } from '@diffq/metrics';
import { type FeatureNetwork, readModelDirectory } from '@diffq/networks';
import { type EngineChoice, openFeatureNetwork, openModelEngine } from '@diffq/onnx';
import { drawLineChart } from './chart/line-chart.ts';
import { listOption, loadLine, numberOption, stringOption } from './options.ts';
import { sampleInBatches } from './sample-batches.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = join(REPO, 'models', 'mnist');
const FEATURES_DIR = join(REPO, 'models', 'mnist-classifier');
const REFERENCE_STATS = join(FEATURES_DIR, 'heldout-stats.npz');
/** The demo's guidance (apps/producer/src/demo.ts). */
const GUIDANCE_W = 3;

interface BenchSampler {
  name: string;
  /** The sampler whose clipped and unclipped runs share a colour in the chart. */
  family: string;
  clipped: boolean;
  /** The respacing DDIM steps through; the solvers use the base schedule. */
  respacing: (steps: number) => string;
  settings: (steps: number) => SamplerSettings;
}

const solver = { skipType: 'time_uniform', denoiseToZero: false } as const;
type OdeSettings = Extract<SamplerSettings, { kind: 'dpm-solver++' }>;

/** A sampler with x̂₀ clipped to [−1, 1] (the default of a pixel model) and its `-noclip` twin. */
function clippedAndNot(family: string, respacing: (steps: number) => string, settings: (steps: number, clip: boolean) => SamplerSettings) {
  return [
    { name: family, family, clipped: true, respacing, settings: (steps: number) => settings(steps, true) },
    { name: `${family}-noclip`, family, clipped: false, respacing, settings: (steps: number) => settings(steps, false) },
  ];
}

const dpm =
  (order: number) =>
  (steps: number, clipDenoised: boolean): OdeSettings => ({ kind: 'dpm-solver++', order, steps, clipDenoised, ...solver });
const SAMPLERS: BenchSampler[] = [
  ...clippedAndNot('ddim', String, (_, clipDenoised) => ({ kind: 'ddim', eta: 0, clipDenoised })),
  ...clippedAndNot('dpm++2m', () => '', dpm(2)),
  ...clippedAndNot(
    'unipc',
    () => '',
    (steps, clipDenoised) => ({ kind: 'unipc', variant: 'bh2', order: 2, steps, clipDenoised, ...solver }),
  ),
  ...clippedAndNot('dpm++3m', () => '', dpm(3)),
  // The authors' remedy for large guidance scales instead of the clip: dynamic thresholding of x̂₀ (p = 0.995, as Imagen).
  {
    name: 'dpm++2m-dt',
    family: 'dpm++2m-dt',
    clipped: false,
    respacing: () => '',
    settings: (steps) => ({ ...dpm(2)(steps, false), dynamicThreshold: { ratio: 0.995, maxValue: 1 } }),
  },
];
const DEFAULT_SAMPLERS = ['ddim', 'ddim-noclip', 'dpm++2m', 'dpm++2m-noclip', 'unipc', 'unipc-noclip'];

interface Measured {
  sampler: string;
  steps: number;
  /** Which seed set: seeds set·samples … (set + 1)·samples − 1. */
  set: number;
  seconds: number;
  fid: number;
}

/** Mean, sample standard deviation and range of one point's FIDs over its seed sets. */
interface Spread {
  mean: number;
  sd: number;
  min: number;
  max: number;
  n: number;
}

function spreadOf(values: number[]): Spread {
  const n = values.length;
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

function formatSpread(s: Spread): string {
  return s.n > 1
    ? `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}, ${s.n} seed sets)`
    : s.mean.toFixed(1);
}

/** The FID side: the classifier's features and the held-out digits' statistics, when both exist. */
async function openFid(engine: EngineChoice): Promise<{ network: FeatureNetwork; reference: GaussianStats } | string> {
  if (!existsSync(join(FEATURES_DIR, 'model.json'))) return `no feature network at ${FEATURES_DIR}`;
  if (!existsSync(REFERENCE_STATS)) return `no reference statistics at ${REFERENCE_STATS}`;
  let network: FeatureNetwork;
  try {
    network = await openFeatureNetwork(FEATURES_DIR, { engine });
  } catch (error) {
    // The directory may still be being written by its trainer; a later call tries again.
    return `the feature network at ${FEATURES_DIR} did not open: ${(error as Error).message.split('\n')[0]}`;
  }
  const reference = decodeStatsNpz(new Uint8Array(readFileSync(REFERENCE_STATS)), REFERENCE_STATS, { dim: network.info.featureDim });
  return { network, reference };
}

/** --configs name:steps,… when given, else every sampler at every step count (steps outermost). */
function configList(samplers: BenchSampler[], stepList: number[]): { s: BenchSampler; steps: number }[] {
  const given = stringOption('configs', '');
  if (given === '') return stepList.flatMap((steps) => samplers.map((s) => ({ s, steps })));
  return given.split(',').map((pair) => {
    const [name, steps] = pair.split(':');
    const s = SAMPLERS.find((x) => x.name === name);
    if (!s || !(Number(steps) >= 1 && Number.isInteger(Number(steps))))
      throw new Error(
        `--configs entry "${pair}"; accepted: <sampler>:<steps> with sampler one of ${SAMPLERS.map((x) => x.name).join(', ')}`,
      );
    return { s, steps: Number(steps) };
  });
}

function pad(text: string | number, width: number): string {
  return String(text).padStart(width);
}

type Config = { s: BenchSampler; steps: number };

/** The measured points of one sampler and step count, over their seed sets. */
function pointOf(results: Measured[], sampler: string, steps: number): Measured[] {
  return results.filter((r) => r.sampler === sampler && r.steps === steps);
}

function fidOf(results: Measured[], sampler: string, steps: number): Spread | undefined {
  const fids = pointOf(results, sampler, steps)
    .map((r) => r.fid)
    .filter((v) => !Number.isNaN(v));
  return fids.length > 0 ? spreadOf(fids) : undefined;
}

/** FID (mean over seed sets; else ms per sample) against steps, a sampler's clipped and unclipped runs in one colour. */
function writeChart(results: Measured[], configs: Config[], samples: number, seedSets: number, chartPath: string): void {
  if (chartPath === 'none' || results.length === 0) return;
  const chartSteps = [...new Set(configs.map((x) => x.steps))].sort((p, q) => p - q);
  const chartSamplers = SAMPLERS.filter((x) => configs.some((cfg) => cfg.s === x));
  const families = [...new Set(chartSamplers.map((x) => x.family))];
  const withFid = results.some((r) => !Number.isNaN(r.fid));
  const png = encodePng(
    drawLineChart({
      title: `${withFid ? 'FID' : 'MS PER SAMPLE'} ON MODELS/MNIST, ${samples} SAMPLES${seedSets > 1 ? ` X ${seedSets} SETS` : ''}, CFG W=${GUIDANCE_W}`,
      xLabel: 'STEPS (NETWORK EVALUATIONS)',
      yLabel: withFid ? 'FID (LOG SCALE)' : 'MS PER SAMPLE',
      yScale: withFid ? 'log' : 'linear',
      x: chartSteps,
      series: chartSamplers.map((s) => ({
        name: s.name,
        color: families.indexOf(s.family),
        thin: !s.clipped,
        y: chartSteps.map((steps) => {
          const measured = pointOf(results, s.name, steps);
          if (measured.length === 0) return Number.NaN;
          if (withFid) return fidOf(results, s.name, steps)?.mean ?? Number.NaN;
          return (measured.reduce((a, r) => a + r.seconds, 0) * 1000) / (samples * measured.length);
        }),
      })),
    }),
  );
  writeFileSync(resolve(chartPath), png);
}

/**
 * --from-log <file>: the points a previous run printed (its header, its "<sampler> <steps> <set> <wall
 * s> <ms/sample>" rows and its "FID <sampler> at <steps> steps, seed set <k>: <fid>" lines), so its
 * chart and summary can be redrawn without sampling again.
 */
function resultsFromLog(path: string): { results: Measured[]; samples: number; seedSets: number } {
  const text = readFileSync(path, 'utf8');
  const header = text.match(/(\d+) samples per point × (\d+) seed set/);
  if (!header) throw new Error(`--from-log ${path}: no "N samples per point × K seed set(s)" header of a solvers run`);
  const results: Measured[] = [];
  for (const [, sampler, steps, set, seconds] of text.matchAll(/^solvers: +(\S+) +(\d+) +(\d+) +([\d.]+) +[\d.]+$/gm)) {
    results.push({ sampler, steps: Number(steps), set: Number(set), seconds: Number(seconds), fid: Number.NaN });
  }
  for (const [, sampler, steps, set, fid] of text.matchAll(/^solvers: FID (\S+) at (\d+) steps, seed set (\d+): ([\d.]+)$/gm)) {
    const r = results.find((x) => x.sampler === sampler && x.steps === Number(steps) && x.set === Number(set));
    if (r) r.fid = Number(fid);
  }
  if (results.length === 0) throw new Error(`--from-log ${path}: no measured points`);
  return { results, samples: Number(header[1]), seedSets: Number(header[2]) };
}

function summarize(results: Measured[], configs: Config[], samples: number): void {
  const measured = configs.filter(({ s, steps }) => pointOf(results, s.name, steps).length > 0);
  for (const { s, steps } of measured) {
    const runs = pointOf(results, s.name, steps);
    const ms = (runs.reduce((a, r) => a + r.seconds, 0) * 1000) / (samples * runs.length);
    const spread = fidOf(results, s.name, steps);
    console.log(
      `solvers: ${pad(s.name, 15)} ${pad(steps, 5)} ${pad(ms.toFixed(1), 10)} ms/sample  FID ${spread ? formatSpread(spread) : '-'}`,
    );
  }
  claims(results, measured);
}

export async function benchSolvers(): Promise<void> {
  const chartPath = stringOption('chart', join(REPO, 'docs', 'solvers.png'));
  const fromLog = stringOption('from-log', '');
  if (fromLog !== '') {
    const { results, samples, seedSets } = resultsFromLog(fromLog);
    const configs = results
      .filter((r, i) => results.findIndex((x) => x.sampler === r.sampler && x.steps === r.steps) === i)
      .map((r) => ({ s: SAMPLERS.find((x) => x.name === r.sampler) as BenchSampler, steps: r.steps }))
      .filter((cfg) => cfg.s !== undefined);
    console.log(
      `solvers: ${results.length} points of ${fromLog} (${samples} samples per point × ${seedSets} seed set(s)), not sampled again`,
    );
    summarize(results, configs, samples);
    writeChart(results, configs, samples, seedSets, chartPath);
    if (chartPath !== 'none') console.log(`solvers: chart written to ${resolve(chartPath)}`);
    return;
  }
  const samples = numberOption('samples', 1000, 100);
  const seedSets = numberOption('seed-sets', 1);
  const stepList = listOption('steps', [5, 10, 20, 50]);
  const batch = numberOption('batch', 100);
  const engineChoice = stringOption('engine', 'auto') as EngineChoice;
  const names = stringOption('samplers', DEFAULT_SAMPLERS.join(',')).split(',');
  const unknown = names.filter((n) => !SAMPLERS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`--samplers names ${unknown.join(', ')}; accepted: ${SAMPLERS.map((s) => s.name).join(', ')}`);
  if (!Number.isInteger(seedSets)) throw new Error(`--seed-sets is ${seedSets}; accepted: a positive integer`);
  const samplers = SAMPLERS.filter((s) => names.includes(s.name));
  const configs = configList(samplers, stepList);

  const directory = await readModelDirectory(MODEL_DIR);
  if (directory.architecture !== 'adm-unet') throw new Error(`${MODEL_DIR} is not a denoiser`);
  const { unet, nullLabel } = directory;
  if (unet.numClasses === null || nullLabel === null) throw new Error(`${MODEL_DIR} is not a classifier-free guided model`);
  const diffusion: DiffusionConfig = parseDiffusionConfig(directory.diffusion, 'model.json.diffusion');
  const opened = await openModelEngine({ modelDir: MODEL_DIR, directory, engine: engineChoice });
  const seedSet = (set: number) => Array.from({ length: samples }, (_, i) => set * samples + i);
  const [h, w, c] = [unet.imageSize, unet.imageSize, unet.inChannels];
  console.log(
    `solvers: ${MODEL_DIR}, ${samples} samples per point × ${seedSets} seed set(s) (seeds 0-${samples * seedSets - 1}, balanced labels, CFG w = ${GUIDANCE_W}), batch ${batch}`,
  );
  console.log(`solvers: engine ${opened.why}`);
  console.log(`solvers: ${loadLine()}`);
  console.log(`solvers: ${pad('sampler', 15)} ${pad('steps', 5)} ${pad('set', 3)} ${pad('wall s', 8)} ${pad('ms/sample', 10)}`);

  // FID is computed as soon as the classifier features exist (they may appear while this runs).
  const results: Measured[] = [];
  const images = new Map<Measured, Uint8Array>();
  let fid = 'not opened yet' as Awaited<ReturnType<typeof openFid>>;
  const measurePending = async () => {
    if (typeof fid === 'string') fid = await openFid(engineChoice);
    if (typeof fid === 'string') return;
    for (const [r, batchImages] of images) {
      const { features } = await fid.network.extract(batchImages, [samples, h, w, c]);
      r.fid = frechetDistance(featureStats(features, fid.network.info.featureDim), fid.reference);
      images.delete(r);
      console.log(`solvers: FID ${r.sampler} at ${r.steps} steps, seed set ${r.set}: ${r.fid.toFixed(3)}`);
    }
  };
  try {
    for (const { s, steps } of configs) {
      const process = createProcess({ ...diffusion, timestepRespacing: s.respacing(steps) });
      for (let set = 0; set < seedSets; set++) {
        const seeds = seedSet(set);
        const { images: sampled, seconds } = await sampleInBatches({
          engine: opened.engine,
          process,
          seeds,
          labels: labelsFor({ kind: 'balanced' }, seeds, nullLabel),
          image: [h, w, c],
          batch,
          guidance: { w: GUIDANCE_W, nullLabel },
          sampler: s.settings(steps),
        });
        const r: Measured = { sampler: s.name, steps, set, seconds, fid: Number.NaN };
        results.push(r);
        images.set(r, sampled);
        console.log(
          `solvers: ${pad(s.name, 15)} ${pad(steps, 5)} ${pad(set, 3)} ${pad(seconds.toFixed(1), 8)} ${pad(((seconds * 1000) / samples).toFixed(1), 10)}`,
        );
        await measurePending();
      }
      // Redrawn after every point, so a long run that is stopped early still leaves its chart.
      writeChart(results, configs, samples, seedSets, chartPath);
    }
    await measurePending();
  } finally {
    opened.engine.dispose();
    if (typeof fid !== 'string') fid.network.dispose();
  }
  console.log(
    typeof fid === 'string'
      ? `solvers: FID skipped: ${fid}`
      : `solvers: FID against ${REFERENCE_STATS} (${fid.network.description}, ${samples} samples per seed set):`,
  );
  summarize(results, configs, samples);
  writeChart(results, configs, samples, seedSets, chartPath);
  if (chartPath !== 'none') console.log(`solvers: chart written to ${resolve(chartPath)}`);
}

/**
 * The issue's claims, each against the reference's run-to-run spread when there are several seed
 * sets ("within": the mean is at most the reference's worst seed set), else against its one FID; and
 * the fewest-step setting within DDIM-50's spread, the demo's choice.
 */
function claims(results: Measured[], measured: Config[]): void {
  const check = (label: string, sampler: string, steps: number, refSampler: string, refSteps: number) => {
    const a = fidOf(results, sampler, steps);
    const ref = fidOf(results, refSampler, refSteps);
    if (!a || !ref) return;
    const held = a.mean <= ref.max;
    console.log(
      `solvers: claim "${label}": ${held ? 'holds' : 'does NOT hold'} (FID ${formatSpread(a)} vs ${refSampler}-${refSteps} ${formatSpread(ref)})`,
    );
  };
  check('DPM-Solver++(2M) clipped at 10 steps is within the spread of DDIM-20', 'dpm++2m', 10, 'ddim', 20);
  check('DPM-Solver++(2M) clipped at 20 steps is no worse than DDIM-50', 'dpm++2m', 20, 'ddim', 50);
  check('DPM-Solver++(2M) unclipped at 10 steps is no worse than DDIM-20', 'dpm++2m-noclip', 10, 'ddim', 20);
  const ddim50 = fidOf(results, 'ddim', 50);
  if (!ddim50 || ddim50.n < 2) return;
  const within = measured
    .map(({ s, steps }) => ({ name: s.name, steps, fid: fidOf(results, s.name, steps) }))
    .filter((x) => x.fid && x.fid.mean <= ddim50.max)
    .sort((p, q) => p.steps - q.steps || (p.fid?.mean ?? 0) - (q.fid?.mean ?? 0));
  if (within.length > 0) {
    const best = within[0];
    console.log(
      `solvers: fewest steps within DDIM-50's spread (${formatSpread(ddim50)}): ${best.name} at ${best.steps} steps, FID ${best.fid ? formatSpread(best.fid) : '-'}`,
    );
  }
}
