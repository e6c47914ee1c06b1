/**
 * `npm run bench -- guidance [--samples 1000] [--scales 0,1,2,3,5] [--steps 50] [--batch 100] [--model dir]`:
 * where the shipped MNIST model (models/mnist, or a checkpoint of it being trained) stands, as the demo samples it (DDIM, classifier-free
 * guidance, balanced labels), judged by the shipped MNIST classifier (models/mnist-classifier): per
 * guidance weight w, the FID against the held-out digits (beside the floor, FID of the training
 * digits against them) and the share of samples classified as their requested class. Draws both
 * against w to docs/guidance.png (--chart none for no chart).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeStatsNpz, encodePng } from '@diffq/codecs';
import { createProcess, labelsFor, parseDiffusionConfig } from '@diffq/diffusion';
import { featureStats, frechetDistance } from '@diffq/metrics';
import { readModelDirectory } from '@diffq/networks';
import { openFeatureNetwork, openModelEngine } from '@diffq/onnx';
import { drawLineChart } from './chart/line-chart.ts';
import { loadLine, numberOption, stringOption } from './options.ts';
import { sampleInBatches } from './sample-batches.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SHIPPED_MODEL = join(REPO, 'models', 'mnist');
const FEATURES_DIR = join(REPO, 'models', 'mnist-classifier');

function argmaxRows(logits: Float32Array, k: number): Int32Array {
  const n = logits.length / k;
  return Int32Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    return best;
  });
}

export async function benchGuidance(): Promise<void> {
  const samples = numberOption('samples', 1000, 200);
  const scales = stringOption('scales', '0,1,2,3,5').split(',').map(Number);
  if (scales.some((v) => !(v >= 0)) || scales.some((v, i) => i > 0 && v <= scales[i - 1])) {
    throw new Error(`--scales is "${scales.join(',')}"; accepted: increasing guidance weights ≥ 0, e.g. 0,1,3,5`);
  }
  const steps = numberOption('steps', 50, 20);
  const batch = numberOption('batch', 100);
  const chartPath = stringOption('chart', join(REPO, 'docs', 'guidance.png'));
  const MODEL_DIR = resolve(stringOption('model', SHIPPED_MODEL));

  const directory = await readModelDirectory(MODEL_DIR);
  if (directory.architecture !== 'adm-unet' || directory.nullLabel === null) throw new Error(`${MODEL_DIR} is not a guided denoiser`);
  const { unet, nullLabel } = directory;
  const process = createProcess({ ...parseDiffusionConfig(directory.diffusion, 'model.json.diffusion'), timestepRespacing: String(steps) });
  const opened = await openModelEngine({ modelDir: MODEL_DIR, directory, engine: 'auto' });
  const network = await openFeatureNetwork(FEATURES_DIR);
  const dim = network.info.featureDim;
  const stats = (name: string) => decodeStatsNpz(new Uint8Array(readFileSync(join(FEATURES_DIR, name))), name, { dim });
  const reference = stats('heldout-stats.npz');
  const floor = frechetDistance(stats('train-stats.npz'), reference);
  const seeds = Array.from({ length: samples }, (_, i) => i);
  const labels = labelsFor({ kind: 'balanced' }, seeds, nullLabel);
  const [h, w, c] = [unet.imageSize, unet.imageSize, unet.inChannels];
  console.log(`guidance: ${MODEL_DIR}, DDIM ${steps} steps, ${samples} samples (seeds 0-${samples - 1}, balanced labels), ${opened.why}`);
  console.log(
    `guidance: judged by ${FEATURES_DIR} (${network.description}); floor FID(train, held-out) = ${floor.toFixed(3)}; ${loadLine()}`,
  );
  const fids: number[] = [];
  const accuracies: number[] = [];
  try {
    for (const scale of scales) {
      const { images, seconds } = await sampleInBatches({
        engine: opened.engine,
        process,
        seeds,
        labels,
        image: [h, w, c],
        batch,
        guidance: { w: scale, nullLabel },
        sampler: { kind: 'ddim', eta: 0, clipDenoised: true },
      });
      const { features, logits } = await network.extract(images, [samples, h, w, c]);
      const fid = frechetDistance(featureStats(features, dim), reference);
      const predicted = argmaxRows(logits!, network.info.logitDim!);
      const accuracy = predicted.filter((p, i) => p === labels[i]).length / samples;
      fids.push(fid);
      accuracies.push(accuracy);
      console.log(
        `guidance: w ${String(scale).padStart(4)}  FID ${fid.toFixed(2).padStart(8)} (${(fid / floor).toFixed(1)}× floor)  accuracy ${(100 * accuracy).toFixed(1)} %  (${seconds.toFixed(0)} s sampling)`,
      );
    }
  } finally {
    opened.engine.dispose();
    network.dispose();
  }
  if (chartPath !== 'none') {
    const png = drawLineChart({
      title: `MODELS/MNIST, DDIM ${steps}, ${samples} SAMPLES`,
      xLabel: 'GUIDANCE WEIGHT W',
      yLabel: 'FID / FLOOR; % MISCLASSIFIED',
      x: scales,
      xScale: 'linear',
      series: [
        { name: 'fid/floor', y: fids.map((f) => f / floor) },
        { name: '% wrong', y: accuracies.map((a) => 100 * (1 - a)) },
      ],
    });
    writeFileSync(resolve(chartPath), encodePng(png));
    console.log(`guidance: chart ${chartPath}`);
  }
}
