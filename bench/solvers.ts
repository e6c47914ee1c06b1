/**
 * DDIM against the multistep ODE solvers (DPM-Solver++ 2M and 3M, UniPC bh2) on the shipped MNIST
 * model (models/mnist) with the demo's guidance (classifier-free, w = 3, balanced labels): the same
 * seeds and labels for every sampler, at 5, 10, 20 and 50 steps. Prints the wall time of each and,
 * when the MNIST classifier features exist (models/mnist-classifier with heldout-stats.npz), the FID
 * against held-out MNIST digits; draws FID (else ms per sample) against steps to docs/solvers.png.
 * Options: --samples N (default 1000; --quick 100), --steps 5,10,20,50, --batch B (default 100),
 * --engine auto|onnx|tfjs (default auto), --chart <path> (default docs/solvers.png; "none" for no chart).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeStatsNpz, encodePng } from '@diffq/codecs';
import {
  createProcess,
  type DiffusionConfig,
  type FeatureNetwork,
  featureStats,
  frechetDistance,
  type GaussianStats,
  generate,
  labelsFor,
  parseDiffusionConfig,
  readModelDirectory,
  type SamplerSettings,
  SeedNoiseSource,
} from '@diffq/diffusion';
import { type EngineChoice, openFeatureNetwork, openModelEngine } from '@diffq/onnx';
import { drawLineChart } from './chart/line-chart.ts';
import { listOption, loadLine, numberOption, stringOption } from './options.ts';

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
  const network = await openFeatureNetwork(FEATURES_DIR, { engine });
  const reference = decodeStatsNpz(new Uint8Array(readFileSync(REFERENCE_STATS)), REFERENCE_STATS, { dim: network.info.featureDim });
  return { network, reference };
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

  const directory = await readModelDirectory(MODEL_DIR);
  if (directory.architecture !== 'adm-unet') throw new Error(`${MODEL_DIR} is not a denoiser`);
  const { unet, nullLabel } = directory;
  if (unet.numClasses === null || nullLabel === null) throw new Error(`${MODEL_DIR} is not a classifier-free guided model`);
  const diffusion: DiffusionConfig = parseDiffusionConfig(directory.diffusion, 'model.json.diffusion');
  const opened = await openModelEngine({ modelDir: MODEL_DIR, directory, engine: engineChoice });
  const fid = await openFid(engineChoice);
  const seeds = Array.from({ length: samples }, (_, i) => i);
  const labels = labelsFor({ kind: 'balanced' }, seeds, nullLabel);
  console.log(`solvers: ${MODEL_DIR}, ${samples} samples (seeds 0-${samples - 1}, balanced labels, CFG w = ${GUIDANCE_W}), batch ${batch}`);
  console.log(`solvers: engine ${opened.why}`);
  console.log(`solvers: FID ${typeof fid === 'string' ? `skipped: ${fid}` : `against ${REFERENCE_STATS} (${fid.network.description})`}`);
  console.log(`solvers: ${loadLine()}`);
  console.log(`solvers: ${pad('sampler', 8)} ${pad('steps', 5)} ${pad('NFE', 5)} ${pad('wall s', 8)} ${pad('ms/sample', 10)} ${pad('FID', 8)}`);

  const results: Measured[] = [];
  try {
    for (const steps of stepList) {
      for (const s of SAMPLERS) {
        const process = createProcess({ ...diffusion, timestepRespacing: s.respacing(steps) });
        const [h, w, c] = [unet.imageSize, unet.imageSize, unet.inChannels];
        const images = new Uint8Array(samples * h * w * c);
        const started = performance.now();
        for (let start = 0; start < samples; start += batch) {
          const batchSeeds = seeds.slice(start, start + batch);
          const generated = await generate({
            engine: opened.engine,
            process,
            noise: new SeedNoiseSource(batchSeeds),
            shape: [batchSeeds.length, c, h, w],
            labels: labels.subarray(start, start + batchSeeds.length),
            guidance: { type: 'classifier_free', w: GUIDANCE_W, nullLabel },
            sampler: s.settings(steps),
          });
          images.set(generated.images, start * h * w * c);
        }
        const seconds = (performance.now() - started) / 1000;
        let distance = Number.NaN;
        if (typeof fid !== 'string') {
          const { features } = await fid.network.extract(images, [samples, h, w, c]);
          distance = frechetDistance(featureStats(features, fid.network.info.featureDim), fid.reference);
        }
        results.push({ sampler: s.name, steps, seconds, fid: distance });
        console.log(
          `solvers: ${pad(s.name, 8)} ${pad(steps, 5)} ${pad(steps, 5)} ${pad(seconds.toFixed(1), 8)} ${pad(((seconds * 1000) / samples).toFixed(1), 10)} ${pad(Number.isNaN(distance) ? '-' : distance.toFixed(3), 8)}`,
        );
      }
    }
  } finally {
    opened.engine.dispose();
    if (typeof fid !== 'string') fid.network.dispose();
  }

  const at = (sampler: string, steps: number) => results.find((r) => r.sampler === sampler && r.steps === steps);
  const dpm10 = at('dpm++2m', 10);
  const ddim20 = at('ddim', 20);
  if (dpm10 && ddim20 && !Number.isNaN(dpm10.fid)) {
    const held = dpm10.fid <= ddim20.fid;
    console.log(
      `solvers: claim "DPM-Solver++ at 10 steps is no worse than DDIM at 20": ${held ? 'holds' : 'does NOT hold'} (FID ${dpm10.fid.toFixed(3)} vs ${ddim20.fid.toFixed(3)})`,
    );
  }
  if (chartPath !== 'none') {
    const withFid = results.some((r) => !Number.isNaN(r.fid));
    const png = encodePng(
      drawLineChart({
        title: `${withFid ? 'FID' : 'MS PER SAMPLE'} ON MODELS/MNIST, ${samples} SAMPLES, CFG W=${GUIDANCE_W}`,
        xLabel: 'STEPS (NETWORK EVALUATIONS)',
        yLabel: withFid ? 'FID (MNIST CLASSIFIER FEATURES)' : 'MS PER SAMPLE',
        x: stepList,
        series: SAMPLERS.map((s) => ({
          name: s.name,
          y: stepList.map((steps) => {
            const r = at(s.name, steps);
            if (!r) return Number.NaN;
            return withFid ? r.fid : (r.seconds * 1000) / samples;
          }),
        })),
      }),
    );
    writeFileSync(resolve(chartPath), png);
    console.log(`solvers: chart written to ${resolve(chartPath)}`);
  }
}
