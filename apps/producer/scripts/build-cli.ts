/**
 * `npm run build:cli`: bundles the diffq CLI (src/cli.ts and the workspace packages it imports)
 * into dist/, so that bin/diffq.js can start without the TypeScript loader: tsx transpiles and
 * resolves every module through its loader thread, which costs more than a 1,000,000-seed launch
 * itself (docs/benchmarks.md, `launch`). The npm libraries of the queue path (bullmq, ioredis, zod)
 * are bundled too; native and heavy ones stay in node_modules (EXTERNAL).
 *
 * dist/ sits beside src/ at the same depth, so the `import.meta.url`-relative paths of the sources
 * (../package.json, ../../../models/mnist) hold in the bundle too. dist/inputs.json lists every
 * source file bundled; bin/fresh-build.js runs the bundle only while none of them is newer.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

const APP = resolve(import.meta.dirname, '..');
const DIST = join(APP, 'dist');

/**
 * Left to node_modules: native and heavy libraries that only the sampling commands (demo,
 * bench-model) load, and whatever has files of its own to read at run time.
 */
const EXTERNAL = [/^@tensorflow\//, /^onnxruntime-/, /^@aws-sdk\//, /^@smithy\//, /^msgpackr-extract/, /^yargs/];

const heavyPackagesExternal: Plugin = {
  name: 'heavy-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      EXTERNAL.some((re) => re.test(args.path)) ? { path: args.path, external: true } : undefined,
    );
  },
};

export async function buildCli(): Promise<string[]> {
  rmSync(DIST, { recursive: true, force: true });
  const startedAt = Date.now();
  const result = await build({
    entryPoints: [join(APP, 'src', 'cli.ts')],
    outdir: DIST,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    metafile: true,
    // The bundled CommonJS libraries (ioredis…) require Node's built-ins: ESM has no require of its own.
    banner: {
      js: "import { createRequire as __diffqCreateRequire } from 'node:module'; const require = __diffqCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
    plugins: [heavyPackagesExternal],
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(p));
  // The start time, not the end: a source saved during the build makes the bundle stale.
  writeFileSync(join(DIST, 'inputs.json'), `${JSON.stringify({ builtAt: startedAt, inputs }, null, 1)}\n`);
  return inputs;
}

if (process.argv[1] === import.meta.filename) {
  const inputs = await buildCli();
  process.stderr.write(`diffq CLI bundled into ${DIST} from ${inputs.length} sources\n`);
}
