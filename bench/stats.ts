/**
 * The CPU cost of the float64/per-seed pieces that run outside the networks, each measured side by
 * side with what it replaces or is judged against, in the same run:
 * - per-seed Philox noise against tfjs's own (non-reproducible) randomNormal, for the draws one
 *   DDPM-1000 sample of 3×32×32 needs (1001 streams);
 * - the Fréchet distance at Inception's width (d = 2048) against pytorch-fid's
 *   calculate_frechet_distance (numpy + scipy.linalg.sqrtm, run by /usr/bin/python3 on the same
 *   matrices, read from the stats npz this bench writes), with the ratio; then again with the
 *   reference's factor cached, as a live FID or a second run against one reference sees it;
 * - finalizing a 50,000-sample evaluation: moments of 50,000 × 2048 features accumulated shard by
 *   shard, then the FID against a cached reference (DIFFQ_BENCH_FINALIZE_SAMPLES changes the count).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeStatsNpz } from '@diffq/codecs';
import { fillNormals, initBackend, seedNormals } from '@diffq/diffusion';
import { accumulateMoments, emptyMoments, featureStats, frechetDistanceWith, momentsToStats } from '@diffq/metrics';
import { processFrechetKernel } from '@diffq/onnx/frechet-kernel';
import { processMomentKernel } from '@diffq/onnx/moment-kernel';
import * as tf from '@tensorflow/tfjs';
import { PYTHON } from '../test/fixtures/reference-python.ts';

const STREAMS = 1001;
const SAMPLE = 3 * 32 * 32;
const DIM = 2048;
const SHARD = 256;

function seconds(run: () => void): number {
  const started = performance.now();
  run();
  return (performance.now() - started) / 1000;
}

/** Wall and CPU seconds (all threads of the process) of run. */
function timed(run: () => void): { wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const wall = seconds(run);
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1e6 };
}

async function timedAsync(run: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

/** pytorch-fid's calculate_frechet_distance, verbatim in behaviour: sqrtm of Σ₁Σ₂, eps·I retry, real part. */
const SCIPY_FID = `
import sys, time, json, numpy as np
from scipy import linalg
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
mu1, sigma1, mu2, sigma2 = a['mu'], a['sigma'], b['mu'], b['sigma']
start, cpu = time.perf_counter(), time.process_time()
diff = mu1 - mu2
covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
if not np.isfinite(covmean).all():
    offset = np.eye(sigma1.shape[0]) * 1e-6
    covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
if np.iscomplexobj(covmean):
    covmean = covmean.real
fid = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
print(json.dumps({'seconds': time.perf_counter() - start, 'cpu': time.process_time() - cpu, 'fid': float(fid)}))
`;

function scipyFid(fileA: string, fileB: string): { seconds: number; cpu: number; fid: number } | string {
  // OpenBLAS kernel overrides slow a current numpy down; the comparison is against scipy at its best.
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(PYTHON, ['-c', SCIPY_FID, fileA, fileB], { encoding: 'utf8', env });
  if (run.status !== 0)
    return `scipy route not run (${(run.stderr || run.error?.message || '').trim().split('\n').pop()}; apt-get install -y python3-numpy python3-scipy)`;
  return JSON.parse(run.stdout);
}

export async function benchStats(): Promise<void> {
  await initBackend();
  const out = new Float32Array(SAMPLE);
  const philoxS = seconds(() => {
    for (let s = 0; s < STREAMS; s++) fillNormals(12345, s, out);
  });
  const tfjsS = seconds(() => {
    for (let s = 0; s < STREAMS; s++) tf.randomNormal([SAMPLE]).dispose();
  });
  const count = STREAMS * SAMPLE;
  console.log(
    `stats: normals for one DDPM-1000 3×32×32 sample: Philox ${philoxS.toFixed(3)} s (${(count / philoxS / 1e6).toFixed(1)} M/s), tfjs randomNormal ${tfjsS.toFixed(3)} s (${(count / tfjsS / 1e6).toFixed(1)} M/s), Philox/tfjs time ${(philoxS / tfjsS).toFixed(2)}×`,
  );

  const rows = 2500;
  // Features with unequal scales and correlated columns, so that Σ is not near a multiple of I.
  const features = (seed: number) => {
    const x = seedNormals(seed, 0, rows * DIM);
    for (let i = 0; i < rows; i++) for (let j = 1; j < DIM; j++) x[i * DIM + j] = 0.5 * x[i * DIM + j - 1] + x[i * DIM + j] * (1 + j / DIM);
    return featureStats(x, DIM);
  };
  const a = features(2);
  const b = features(3);
  const frechetKernel = await processFrechetKernel();
  await frechetDistanceWith(frechetKernel, featureStats(seedNormals(4, 0, 64 * 48), 48), featureStats(seedNormals(5, 0, 64 * 48), 48));
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-stats-'));
  try {
    const fileA = join(dir, 'a.npz');
    const fileB = join(dir, 'b.npz');
    writeFileSync(fileA, encodeStatsNpz(a));
    writeFileSync(fileB, encodeStatsNpz(b));
    let ours = 0;
    const load = loadavg()[0];
    const oursT = await timedAsync(async () => {
      ours = await frechetDistanceWith(frechetKernel, a, b);
    });
    const oursS = oursT.wall;
    const scipy = scipyFid(fileA, fileB);
    const again = { mu: a.mu, sigma: a.sigma.slice() };
    const cachedS = (await timedAsync(() => frechetDistanceWith(frechetKernel, again, b))).wall;
    if (typeof scipy === 'string') {
      console.log(
        `stats: Fréchet distance at d=${DIM}: diffq (${frechetKernel.name} kernel) ${oursS.toFixed(2)} s (value ${ours.toFixed(6)}); ${scipy}`,
      );
    } else {
      console.log(
        `stats: Fréchet distance at d=${DIM} (covariances of ${rows} samples): diffq (${frechetKernel.name} kernel) ${oursS.toFixed(2)} s (${oursT.cpu.toFixed(1)} s CPU), pytorch-fid's scipy sqrtm route ${scipy.seconds.toFixed(2)} s (${scipy.cpu.toFixed(1)} s CPU), diffq/scipy time ${(oursS / scipy.seconds).toFixed(2)}× (CPU ${(oursT.cpu / scipy.cpu).toFixed(2)}×); ` +
          `values ${ours.toFixed(6)} vs ${scipy.fid.toFixed(6)} (relative difference ${(Math.abs(ours - scipy.fid) / scipy.fid).toExponential(1)}); load average ${load.toFixed(1)} on ${availableParallelism()} cores`,
      );
    }
    console.log(`stats: Fréchet distance at d=${DIM} with the reference's factor cached: ${cachedS.toFixed(2)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const samples = Number(process.env.DIFFQ_BENCH_FINALIZE_SAMPLES ?? 50_000);
  const kernel = await processMomentKernel();
  const firstShard = seedNormals(1, 0, SHARD * DIM);
  const jsShard = timed(() => accumulateMoments(emptyMoments(DIM), firstShard));
  await kernel.accumulate(emptyMoments(DIM), firstShard.subarray(0, DIM)); // opens the session
  const fastShard = await timedAsync(() => kernel.accumulate(emptyMoments(DIM), firstShard));
  console.log(
    `stats: moments of one ${SHARD}-sample shard at d=${DIM}: JavaScript ${jsShard.wall.toFixed(2)} s (${jsShard.cpu.toFixed(2)} s CPU), ` +
      `${kernel.name} ${fastShard.wall.toFixed(2)} s (${fastShard.cpu.toFixed(2)} s CPU)${kernel.fallback ? ` (${kernel.fallback})` : ''}`,
  );
  // Every shard its own features (a repeated shard would leave Σ of rank 255 and flatter the Fréchet
  // step); drawing them is not timed. The reference is a fresh copy, as a finalizer reads it from its npz.
  const moments = emptyMoments(DIM);
  const load = loadavg()[0];
  const finalize = { wall: 0, cpu: 0 };
  for (let done = 0, s = 0; done < samples; done += SHARD, s++) {
    const shard = seedNormals(1, s, Math.min(SHARD, samples - done) * DIM);
    const t = await timedAsync(() => kernel.accumulate(moments, shard));
    finalize.wall += t.wall;
    finalize.cpu += t.cpu;
  }
  const momentsT = { ...finalize };
  let fid = 0;
  const reference = { mu: b.mu, sigma: b.sigma.slice(), samples: b.samples };
  const frechetT = await timedAsync(async () => {
    fid = await frechetDistanceWith(frechetKernel, momentsToStats(moments), reference);
  });
  finalize.wall += frechetT.wall;
  finalize.cpu += frechetT.cpu;
  console.log(
    `stats: finalize ${samples}x${DIM}: ${finalize.wall.toFixed(1)} s (${finalize.cpu.toFixed(1)} s CPU, load average ${load.toFixed(1)} on ${availableParallelism()} cores): ` +
      `moments ${momentsT.wall.toFixed(1)} s (${momentsT.cpu.toFixed(1)} s CPU, ${kernel.name} kernel), Fréchet ${frechetT.wall.toFixed(1)} s (${frechetT.cpu.toFixed(1)} s CPU, ${frechetKernel.name} kernel); FID ${fid.toFixed(3)}`,
  );
}
