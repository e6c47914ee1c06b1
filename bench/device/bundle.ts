/**
 * Bundles what the device check runs into <out>/app/ (bench/device/prepare.sh calls it): the check
 * itself, the diffq CLI (for the end-to-end demo) and the golden runner, each one ESM file with
 * every npm library inside, as `npm run build:cli` bundles the CLI. onnxruntime-node alone stays
 * outside (prepare.sh carries its JS and its linux-x64 native library in <out>/app/node_modules),
 * since it loads its binding from a path relative to its own files.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const REPO = resolve(import.meta.dirname, '..', '..');
const out = resolve(process.argv[2] ?? join(REPO, 'bench', 'device', 'dist'));

await build({
  entryPoints: {
    'device-check': join(REPO, 'bench', 'device', 'device-check.ts'),
    diffq: join(REPO, 'bench', 'device', 'diffq.ts'),
    golden: join(REPO, 'test', 'golden', 'run.ts'),
  },
  outdir: join(out, 'app', 'bin'),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // CommonJS libraries in the bundle require Node's built-ins: ESM has no require of its own.
  banner: {
    js: "import { createRequire as __diffqCreateRequire } from 'node:module'; const require = __diffqCreateRequire(import.meta.url);",
  },
  external: ['onnxruntime-node', 'msgpackr-extract', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  logLevel: 'warning',
});
// The CLI requires yargs at run time (its one-file CommonJS build loads faster than its ESM one):
// that build, bundled with its own dependencies, is app/node_modules/yargs, with its English texts.
const yargsEntry = createRequire(join(REPO, 'apps', 'producer', 'package.json')).resolve('yargs');
const yargsOut = join(out, 'app', 'node_modules', 'yargs');
mkdirSync(yargsOut, { recursive: true });
await build({
  entryPoints: [yargsEntry],
  outfile: join(yargsOut, 'index.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  logLevel: 'warning',
});
writeFileSync(join(yargsOut, 'package.json'), `${JSON.stringify({ name: 'yargs', main: 'index.cjs' })}\n`);
cpSync(join(yargsEntry, '..', 'locales', 'en.json'), join(yargsOut, 'locales', 'en.json'));
// `new URL('../package.json', import.meta.url)` in the producer reads its version from here.
writeFileSync(join(out, 'app', 'package.json'), `${JSON.stringify({ name: 'diffq-device-check', version: '0.1.0', type: 'module' })}\n`);
process.stderr.write(`device check bundled into ${join(out, 'app', 'bin')}\n`);
