/**
 * `npm run golden -- <dir> [--engine tfjs|onnx] [--only <substring>]`: runs every case directory in
 * <dir>, one line per case (PASS/FAIL, name, kind, worst error as a fraction of its tolerance), then
 * `N passed, M failed`. A kind without a runner is a FAIL, never a skip.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '@diffq/diffusion';
import { loadCase, NotImplemented } from './case.ts';
import { compareTensor } from './compare.ts';
import { KINDS } from './kinds/index.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { engine: { type: 'string', default: 'tfjs' }, only: { type: 'string' }, verbose: { type: 'boolean', default: false } },
});
const dir = resolve(positionals[0] ?? 'test/golden/cases');
if (!existsSync(dir)) {
  console.error(`golden: directory ${dir} does not exist`);
  process.exit(2);
}
const engine = values.engine as string;
if (!['tfjs', 'onnx'].includes(engine)) {
  console.error(`golden: --engine is "${engine}"; accepted: tfjs, onnx`);
  process.exit(2);
}
console.log(`golden: ${dir}, engine ${engine}, ${describeBackend(await initBackend())}`);

const cases = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'case.json')))
  .map((d) => d.name)
  .filter((n) => !values.only || n.includes(values.only))
  .sort();
// A run that checks nothing must not read as a pass (an empty folder, an --only that matches nothing).
if (cases.length === 0) {
  console.error(`golden: no case in ${dir}${values.only ? ` matches --only "${values.only}"` : ''}; nothing was checked`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

let passed = 0;
let failed = 0;
for (const name of cases) {
  const c = loadCase(join(dir, name));
  const kind = c.json.kind;
  const started = performance.now();
  let line: string;
  try {
    const runner = KINDS[kind];
    if (!runner) throw new NotImplemented(`kind ${kind} has no runner`);
    const outputs = await runner(c, { engine });
    const comparisons = c.json.outputs.map((o) => {
      const tol = { ...c.json.tolerance, ...(c.json.tolerance.per_tensor?.[o] ?? {}) };
      if (!(o in outputs)) return { name: o, ratio: Number.POSITIVE_INFINITY, detail: `${o}: not produced` };
      return compareTensor(o, c.tensor(o), outputs[o], tol);
    });
    const worst = comparisons.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const ok = comparisons.every((r) => r.ratio <= 1);
    if (ok) passed++;
    else failed++;
    line = `${ok ? 'PASS' : 'FAIL'} ${name} ${kind} worst ${worst.ratio.toFixed(4)} of tolerance (${worst.detail})`;
    if (values.verbose) line += `\n${comparisons.map((r) => `    ${r.ratio.toFixed(4)} ${r.detail}`).join('\n')}`;
  } catch (e) {
    failed++;
    const err = e as Error;
    line = `FAIL ${name} ${kind} ${err instanceof NotImplemented ? 'not implemented' : 'error'}: ${err.message}`;
    if (values.verbose && !(err instanceof NotImplemented)) line += `\n${err.stack}`;
  }
  console.log(`${line} [${((performance.now() - started) / 1000).toFixed(1)}s]`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
