/**
 * `npm run bench [-- <name> …] [--option value …]`: runs the named benchmarks (all when none is
 * named; `gpu` only by name, it needs a GPU node). Each prints figures measured side by side in the
 * same run, so ratios are comparable whatever the machine. Options: bench/options.ts and the doc
 * comment of each bench; `--quick` shortens them all.
 */
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
  training: async () => (await import('./training.ts')).benchTraining(),
  guidance: async () => (await import('./guidance.ts')).benchGuidance(),
  solvers: async () => (await import('./solvers.ts')).benchSolvers(),
};
/** Benches left out when none is named. */
const ONLY_BY_NAME = new Set(['gpu']);

const names = benchNames();
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; accepted: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const failed: string[] = [];
for (const name of names.length > 0 ? names : Object.keys(BENCHES).filter((n) => !ONLY_BY_NAME.has(n))) {
  console.log(`== bench ${name}`);
  try {
    await BENCHES[name]();
  } catch (error) {
    // One bench failing (a GPU bench without CUDA, a busy Redis) does not hide the others' figures.
    console.error(`bench ${name} failed: ${(error as Error).message}`);
    failed.push(name);
  }
}
if (names.length === 0) console.log('== bench gpu: not run (GPU nodes only): npm run bench -- gpu');
if (failed.length > 0) {
  console.error(`bench: ${failed.join(', ')} failed`);
  process.exitCode = 1;
}
