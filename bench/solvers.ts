/**
 * DDIM against the multistep ODE solvers (DPM-Solver++ 2M and 3M, UniPC bh2) on the shipped MNIST
 * model (models/mnist) with the demo's guidance (classifier-free, w = 3, balanced labels): the same
 * seeds and labels for every sampler, at 5, 10, 20 and 50 steps. Prints the wall time of each and,
 * when the MNIST classifier features exist (models/mnist-classifier with heldout-stats.npz), the FID
 * against held-out MNIST digits; draws FID (else ms per sample) against steps to docs/solvers.png.
 * Options: --samples N (default 1000; --quick 100), --steps 5,10,20,50, --batch B (default 100),
 * --samplers ddim,ddim-noclip,dpm++2m,dpm++2m-dt,dpm++3m,unipc (default all; -noclip: x̂₀ not clipped; -dt: with dynamic thresholding), or instead of both --configs ddim:20,dpm++2m:10
 * (chosen sampler:steps pairs, for a run that cannot afford the whole grid), --engine auto|onnx|tfjs (default auto),
 * --chart <path> (default docs/solvers.png; "none" for no chart).
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
  /** The respacing DDIM steps through; the solvers use the base schedule. */
  respacing: (steps: number) => string;
  settings: (steps: number) => SamplerSettings;
}

const solver = { skipType: 'time_uniform', denoiseToZero: false } as const;
const SAMPLERS: BenchSampler[] = [
  { name: 'ddim', respacing: String, settings: () => ({ kind: 'ddim', eta: 0, clipDenoised: true }) },
  { name: 'dpm++2m', respacing: () => '', settings: (steps) => ({ kind: 'dpm-solver++', order: 2, steps, ...solver }) },
  // DDIM without clipping x̂₀, as the solvers run: isolates what the clipping is worth on this model.
  { name: 'ddim-noclip', respacing: String, settings: () => ({ kind: 'ddim', eta: 0, clipDenoised: false }) },
  // DPM-Solver++ with the authors' remedy for large guidance scales: dynamic thresholding of x̂₀ (p = 0.995, as Imagen).
  {
    name: 'dpm++2m-dt',
    respacing: () => '',
    settings: (steps) => ({ kind: 'dpm-solver++', order: 2, steps, ...solver, dynamicThreshold: { ratio: 0.995, maxValue: 1 } }),
  },
  { name: 'dpm++3m', respacing: () => '', settings: (steps) => ({ kind: 'dpm-solver++', order: 3, steps, ...solver }) },
  { name: 'unipc', respacing: () => '', settings: (steps) => ({ kind: 'unipc', variant: 'bh2', order: 2, steps, ...solver }) },
];

interface Measured {
  sampler: string;
  steps: number;
  seconds: number;
  fid: number;
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

export async function benchSolvers(): Promise<void> {
  const samples = numberOption('samples', 1000, 100);
  const stepList = listOption('steps', [5, 10, 20, 50]);
  const batch = numberOption('batch', 100);
  const engineChoice = stringOption('engine', 'auto') as EngineChoice;
  const chartPath = stringOption('chart', join(REPO, 'docs', 'solvers.png'));
  const names = stringOption('samplers', SAMPLERS.map((s) => s.name).join(',')).split(',');
  const unknown = names.filter((n) => !SAMPLERS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`--samplers names ${unknown.join(', ')}; accepted: ${SAMPLERS.map((s) => s.name).join(', ')}`);
  const samplers = SAMPLERS.filter((s) => names.includes(s.name));
  const configs = configList(samplers, stepList);

  const directory = await readModelDirectory(MODEL_DIR);
  if (directory.architecture !== 'adm-unet') throw new Error(`${MODEL_DIR} is not a denoiser`);
  const { unet, nullLabel } = directory;
  if (unet.numClasses === null || nullLabel === null) throw new Error(`${MODEL_DIR} is not a classifier-free guided model`);
  const diffusion: DiffusionConfig = parseDiffusionConfig(directory.diffusion, 'model.json.diffusion');
  const opened = await openModelEngine({ modelDir: MODEL_DIR, directory, engine: engineChoice });
  const seeds = Array.from({ length: samples }, (_, i) => i);
  const labels = labelsFor({ kind: 'balanced' }, seeds, nullLabel);
  const [h, w, c] = [unet.imageSize, unet.imageSize, unet.inChannels];
  console.log(`solvers: ${MODEL_DIR}, ${samples} samples (seeds 0-${samples - 1}, balanced labels, CFG w = ${GUIDANCE_W}), batch ${batch}`);
  console.log(`solvers: engine ${opened.why}`);
  console.log(`solvers: ${loadLine()}`);
  console.log(`solvers: ${pad('sampler', 8)} ${pad('steps', 5)} ${pad('NFE', 5)} ${pad('wall s', 8)} ${pad('ms/sample', 10)}`);

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
      console.log(`solvers: FID ${r.sampler} at ${r.steps} steps: ${r.fid.toFixed(3)}`);
    }
  };
  const at = (sampler: string, steps: number) => results.find((r) => r.sampler === sampler && r.steps === steps);
  // Redrawn after every measurement, so a long run that is stopped early still leaves its chart.
  const writeChart = () => {
    if (chartPath === 'none' || results.length === 0) return;
    const chartSteps = [...new Set(configs.map((x) => x.steps))].sort((p, q) => p - q);
    const chartSamplers = SAMPLERS.filter((x) => configs.some((cfg) => cfg.s === x));
    const withFid = results.some((r) => !Number.isNaN(r.fid));
    const png = encodePng(
      drawLineChart({
        title: `${withFid ? 'FID' : 'MS PER SAMPLE'} ON MODELS/MNIST, ${samples} SAMPLES, CFG W=${GUIDANCE_W}`,
        xLabel: 'STEPS (NETWORK EVALUATIONS)',
        yLabel: withFid ? 'FID (MNIST CLASSIFIER FEATURES)' : 'MS PER SAMPLE',
        x: chartSteps,
        series: chartSamplers.map((s) => ({
          name: s.name,
          y: chartSteps.map((steps) => {
            const r = at(s.name, steps);
            if (!r) return Number.NaN;
            return withFid ? r.fid : (r.seconds * 1000) / samples;
          }),
        })),
      }),
    );
    writeFileSync(resolve(chartPath), png);
  };
  try {
    for (const { s, steps } of configs) {
      const process = createProcess({ ...diffusion, timestepRespacing: s.respacing(steps) });
      const { images: sampled, seconds } = await sampleInBatches({
        engine: opened.engine,
        process,
        seeds,
        labels,
        image: [h, w, c],
        batch,
        guidance: { w: GUIDANCE_W, nullLabel },
        sampler: s.settings(steps),
      });
      const r: Measured = { sampler: s.name, steps, seconds, fid: Number.NaN };
      results.push(r);
      images.set(r, sampled);
      console.log(
        `solvers: ${pad(s.name, 8)} ${pad(steps, 5)} ${pad(steps, 5)} ${pad(seconds.toFixed(1), 8)} ${pad(((seconds * 1000) / samples).toFixed(1), 10)}`,
      );
      await measurePending();
      writeChart();
    }
    await measurePending();
  } finally {
    opened.engine.dispose();
    if (typeof fid !== 'string') fid.network.dispose();
  }
  console.log(
    typeof fid === 'string'
      ? `solvers: FID skipped: ${fid}`
      : `solvers: FID against ${REFERENCE_STATS} (${fid.network.description}, ${samples} samples each):`,
  );
  for (const r of results) {
    console.log(
      `solvers: ${pad(r.sampler, 8)} ${pad(r.steps, 5)} ${pad(((r.seconds * 1000) / samples).toFixed(1), 10)} ms/sample  FID ${Number.isNaN(r.fid) ? '-' : r.fid.toFixed(3)}`,
    );
  }

  const dpm10 = at('dpm++2m', 10);
  const ddim20 = at('ddim', 20);
  if (dpm10 && ddim20 && !Number.isNaN(dpm10.fid)) {
    const held = dpm10.fid <= ddim20.fid;
    console.log(
      `solvers: claim "DPM-Solver++ at 10 steps is no worse than DDIM at 20": ${held ? 'holds' : 'does NOT hold'} (FID ${dpm10.fid.toFixed(3)} vs ${ddim20.fid.toFixed(3)})`,
    );
  }
  writeChart();
  if (chartPath !== 'none') console.log(`solvers: chart written to ${resolve(chartPath)}`);
}
