/**
 * FD_DINOv2's network at full size (ViT-L/14: 1024 wide, 24 blocks, 16 heads, 304 M parameters) on
 * diffq's onnx engine and in PyTorch, side by side in one run: the median time of a forward of
 * `--batch` (default 8) `--size`×`--size` (default 32) RGB images, preprocessing included, after one
 * warm-up, over `--rounds` (default 3); then the two engines' features compared (relative L2). Both
 * sides use `--threads` (default all cores) and the same seeded random weights (randomDinov2Weights,
 * written as a safetensors file with the official keys for bench/dinov2_torch.py, a small PyTorch ViT
 * of its own). `--hub-model dinov2_vitl14_reg` benches the register variant, `--depth` fewer blocks. Needs /usr/bin/python3
 * with torch and numpy; ~5 GB of memory, so run it under the heavy-job lock on a shared machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { countParams, dinov2ParamSpecs, parseDinov2Config, randomDinov2Weights } from '@diffq/networks';
import { buildDinov2Onnx, median, openDinov2Network } from '@diffq/onnx';
import { PYTHON } from '../test/fixtures/reference-python.ts';
import { relativeL2, weightsFile } from '../test/fixtures/small-networks.ts';
import { loadLine, numberOption, stringOption } from './options.ts';

interface TorchResult {
  times_ms: number[];
  threads: number;
  torch: string;
}

export async function benchDinov2(): Promise<void> {
  const batch = numberOption('batch', 8, 2);
  const size = numberOption('size', 32);
  const rounds = numberOption('rounds', 3, 1);
  const threads = numberOption('threads', availableParallelism());
  // --depth: fewer blocks for a first look (the time per image scales with it); the figures are for 24.
  const config = parseDinov2Config({ hub_model: stringOption('hub-model', 'dinov2_vitl14'), depth: numberOption('depth', 24) });
  const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-dinov2-'));
  try {
    let started = performance.now();
    let weights: ReturnType<typeof randomDinov2Weights> | undefined = randomDinov2Weights(config, 0);
    console.log(
      `dinov2: ${config.hubModel} random weights (${(countParams(dinov2ParamSpecs(config)) / 1e6).toFixed(1)} M values) in ${seconds(started)} s`,
    );
    const weightsPath = join(dir, 'weights.safetensors');
    writeFileSync(weightsPath, weightsFile(weights));
    started = performance.now();
    const graph = buildDinov2Onnx(config, weights);
    weights = undefined;
    console.log(`dinov2: graph built in ${seconds(started)} s (${(graph.length / 1e6).toFixed(0)} MB)`);
    started = performance.now();
    const network = await openDinov2Network(config, graph, { threads });
    console.log(`dinov2: session opened in ${seconds(started)} s: ${network.description}`);

    const shape = [batch, size, size, 3] as const;
    const images = Uint8Array.from({ length: batch * size * size * 3 }, (_, i) => (i * 2654435761) >>> 24);
    let features: Float32Array;
    const times: number[] = [];
    try {
      features = (await network.extract(images, shape)).features;
      for (let r = 0; r < rounds; r++) {
        started = performance.now();
        features = (await network.extract(images, shape)).features;
        times.push(performance.now() - started);
      }
    } finally {
      network.dispose();
    }
    const onnxMs = median(times);

    const imagesPath = join(dir, 'images.u8');
    const featuresPath = join(dir, 'features.f32');
    writeFileSync(imagesPath, images);
    const torchRun = spawnSync(
      PYTHON,
      [
        join(import.meta.dirname, 'dinov2_torch.py'),
        weightsPath,
        imagesPath,
        String(batch),
        String(size),
        String(size),
        featuresPath,
        '--hub-model',
        config.hubModel,
        '--heads',
        String(config.numHeads),
        '--threads',
        String(threads),
        '--rounds',
        String(rounds),
      ],
      { encoding: 'utf8' },
    );
    if (torchRun.status !== 0) throw new Error(`the PyTorch side failed: ${torchRun.stderr.trim().split('\n').at(-1)}`);
    const torch = JSON.parse(torchRun.stdout.trim().split('\n').at(-1) as string) as TorchResult;
    const torchMs = median(torch.times_ms);
    const bytes = readFileSync(featuresPath);
    const torchFeatures = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);

    const rate = (ms: number) => ((1000 * batch) / ms).toFixed(2);
    console.log(
      `dinov2: forward of ${batch} images (depth ${config.depth}) ${size}×${size} (224×224 inside), median of ${rounds}, ${threads} threads each:`,
    );
    console.log(`dinov2:   diffq onnx     ${onnxMs.toFixed(0)} ms  ${rate(onnxMs)} images/s`);
    console.log(`dinov2:   PyTorch ${torch.torch} ${torchMs.toFixed(0)} ms  ${rate(torchMs)} images/s`);
    console.log(`dinov2:   onnx / PyTorch time ${(onnxMs / torchMs).toFixed(2)}`);
    console.log(
      `dinov2: features agree to ${relativeL2(features, torchFeatures).toExponential(2)} relative L2 (the golden tolerance is 1e-4)`,
    );
    console.log(`dinov2: ${loadLine()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
