import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BACKEND_ORDER, type BackendReport } from '../src/backend.ts';

/** initBackend is once per process, so every case runs in a fresh Node process. */
function reportIn(env: Record<string, string | undefined>): { report?: BackendReport; error?: string } {
  const script = `
    import { initBackend } from './packages/diffusion/src/backend.ts';
    try { console.log(JSON.stringify({ report: await initBackend() })); }
    catch (e) { console.log(JSON.stringify({ error: e.message })); }`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) as string);
}

describe('the tfjs backend choice', () => {
  it('takes the first of node-gpu, node, wasm, cpu that loads and says why it passed over the others', () => {
    const { report } = reportIn({ DIFFQ_BACKEND: undefined });
    assert.ok(report);
    assert.equal(report.requested, 'auto');
    const chosenAt = BACKEND_ORDER.indexOf(report.choice);
    assert.deepEqual(
      report.skipped.map((s) => s.choice),
      BACKEND_ORDER.slice(0, chosenAt),
    );
    for (const s of report.skipped) assert.ok(s.reason.length > 0, `${s.choice} was skipped without a reason`);
  });

  it('is forced by DIFFQ_BACKEND', () => {
    const { report } = reportIn({ DIFFQ_BACKEND: 'cpu' });
    assert.deepEqual(
      { choice: report?.choice, tf: report?.tfBackend, requested: report?.requested },
      { choice: 'cpu', tf: 'cpu', requested: 'cpu' },
    );
  });

  it('rejects an unknown DIFFQ_BACKEND naming the accepted values', () => {
    const { error } = reportIn({ DIFFQ_BACKEND: 'webgpu' });
    assert.match(error ?? '', /DIFFQ_BACKEND is "webgpu"; accepted: auto, node-gpu, node, wasm, cpu/);
  });

  it('fails, naming the reason, when a forced backend cannot load', () => {
    const { report, error } = reportIn({ DIFFQ_BACKEND: 'node' });
    // Where tfjs-node is installed this loads; here it cannot, and the error must say so.
    if (report) assert.equal(report.choice, 'node');
    else assert.match(error ?? '', /no TensorFlow.js backend loaded: node: /);
  });
});
