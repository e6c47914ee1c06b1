/**
 * `npm run bench [-- <name> …] [--option value …]`: runs the named benchmarks (all when none is
 * named; `gpu` only by name, it needs a GPU node). Each prints figures measured side by side in the
 * same run, so ratios are comparable whatever the machine. Options: bench/options.ts and the doc
 * comment of each bench; `--quick` shortens them all. With more than one bench, each runs in a process
 * of its own, so none inherits another's heap (the memory bench reads its process's RSS, the launch
 * bench its children's, and a fork copies the parent's).
 */
import { spawnSync } from 'node:child_process';
import { benchNames } from './options.ts';

const BENCHES: Record<string, () => Promise<void>> = {
  unet: async () => (await import('./unet.ts')).benchUnet(),
  engines: async () => (await import('./engines.ts')).benchEngines(),
  stats: async () => (await import('./stats.ts')).benchStats(),
  pipeline: async () => (await import('./pipeline.ts')).benchPipeline(),
  launch: async () => (await import('./launch.ts')).benchLaunch(),
  memory: async () => (await import('./memory.ts')).benchMemory(),
  packing: async () => (await import('./packing.ts')).benchPacking(),
  gpu: async () => (await import('./gpu.ts')).benchGpu(),
  scale: async () => (await import('./scale.ts')).benchScale(),
  features: async () => (await import('./features.ts')).benchFeatures(),
  dinov2: async () => (await import('./dinov2.ts')).benchDinov2(),
  training: async () => (await import('./training.ts')).benchTraining(),
  guidance: async () => (await import('./guidance.ts')).benchGuidance(),
  solvers: async () => (await import('./solvers.ts')).benchSolvers(),
  'precision-recall': async () => (await import('./precision-recall.ts')).benchPrecisionRecall(),
  latent: async () => (await import('./latent.ts')).benchLatent(),
};
/** Benches left out when none is named. */
const ONLY_BY_NAME = new Set(['gpu', 'dinov2']);

const names = benchNames();
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; accepted: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const failed: string[] = [];
const chosen = names.length > 0 ? names : Object.keys(BENCHES).filter((n) => !ONLY_BY_NAME.has(n));
const options = process.argv.slice(2).filter((a) => !chosen.includes(a));
for (const name of chosen) {
  console.log(`== bench ${name}`);
  if (chosen.length > 1) {
    // One bench failing (a GPU bench without CUDA, a busy Redis) does not hide the others' figures.
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, name, ...options], { stdio: 'inherit' });
    if (child.status !== 0) failed.push(name);
    continue;
  }
  try {
    await BENCHES[name]();
  } catch (error) {
    console.error(`bench ${name} failed: ${(error as Error).message}`);
    failed.push(name);
  }
}
if (names.length === 0) {
  console.log('== bench gpu: not run (GPU nodes only): npm run bench -- gpu');
  console.log('== bench dinov2: not run (full-size ViT-L/14 against PyTorch, ~5 GB): npm run bench -- dinov2');
}
if (failed.length > 0) {
  console.error(`bench: ${failed.join(', ')} failed`);
  process.exitCode = 1;
}
