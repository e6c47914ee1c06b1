import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../src/cli.ts';

/**
 * diffq-worker's main() in this process with its stderr captured, on a model that does not exist:
 * the flags are checked (exit 2 when one is wrong), then loading fails (exit 1).
 */
async function worker(args: string[], env: Record<string, string> = {}): Promise<{ code: number; err: string }> {
  let err = '';
  const write = process.stderr.write;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, { DIFFQ_CONFIG: '', ...env });
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(['--model', '/nonexistent/model', ...args]);
    return { code, err };
  } finally {
    process.stderr.write = write;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('diffq-worker duration flags', () => {
  it('takes every duration with its unit, without a warning', async () => {
    const r = await worker(['--lock-duration', '2m', '--stalled-interval', '30s', '--shutdown-grace', '500ms']);
    assert.equal(r.code, 1, r.err);
    assert.doesNotMatch(r.err, /warning/);
    assert.match(r.err, /\/nonexistent\/model/);
  });

  it('reads a bare number as before (ms for locks, s for the grace) and says how to write it', async () => {
    const r = await worker(['--lock-duration', '60000', '--shutdown-grace', '45']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /warning: --lock-duration 60000: a bare number is read as milliseconds .*write --lock-duration 60s/);
    assert.match(r.err, /warning: --shutdown-grace 45: a bare number is read as seconds .*write --shutdown-grace 45s/);
  });

  it('refuses a duration it cannot read with exit code 2, naming the flag and the accepted spelling', async () => {
    const r = await worker(['--stalled-interval', '30 seconds']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--stalled-interval is "30 seconds"; accepted: a duration from 1ms to 24h with its unit, e\.g\. 500ms, 60s, 2m/);
  });

  it('reads the environment with the same rules', async () => {
    const r = await worker([], { DIFFQ_SHUTDOWN_GRACE: 'soon' });
    assert.equal(r.code, 2);
    assert.match(r.err, /--shutdown-grace is "soon"/);
  });
});
