import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PYTHON, skipUnlessPython } from '../../../test/fixtures/reference-python.ts';
import { encodeNpz, npyArray } from '../src/npz.ts';
import { decodeStatsNpz, encodeStatsNpz } from '../src/stats-npz.ts';

const needNumpy = skipUnlessPython(['numpy']);

function stats(d: number) {
  const mu = Float64Array.from({ length: d }, (_, i) => i / 3);
  const sigma = Float64Array.from({ length: d * d }, (_, k) => (Math.floor(k / d) === k % d ? 2 : 0.1) + 1e-17 * k);
  return { mu, sigma };
}

describe('statistics npz', () => {
  it('round-trips μ, Σ and the sFID pair bit for bit', () => {
    const main = stats(4);
    const spatial = stats(3);
    const back = decodeStatsNpz(encodeStatsNpz({ ...main, spatial }), 'a.npz');
    assert.deepEqual(back.mu, main.mu);
    assert.deepEqual(back.sigma, main.sigma);
    assert.deepEqual(back.spatial, spatial);
  });

  it('is loaded by numpy as pytorch-fid loads statistics: np.load(f)["mu"], ["sigma"]', { skip: needNumpy }, () => {
    const file = join(mkdtempSync(join(tmpdir(), 'stats-')), 'stats.npz');
    const main = stats(5);
    writeFileSync(file, encodeStatsNpz({ ...main, spatial: stats(2) }));
    const script = [
      'import numpy as np, sys, json',
      'f = np.load(sys.argv[1])',
      "print(json.dumps({k: [str(f[k].dtype), list(f[k].shape), f[k].ravel().tolist()] for k in ['mu', 'sigma', 'mu_s', 'sigma_s']}))",
    ].join('\n');
    const out = JSON.parse(execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8' }));
    assert.deepEqual(out.mu, ['float64', [5], [...main.mu]]);
    assert.deepEqual(out.sigma, ['float64', [5, 5], [...main.sigma]]);
    assert.deepEqual(out.mu_s[1], [2]);
  });

  it('reads statistics numpy wrote compressed beside an image batch, as the evaluator reference batches are', { skip: needNumpy }, () => {
    const file = join(mkdtempSync(join(tmpdir(), 'stats-')), 'VIRTUAL_ref.npz');
    const script = [
      'import numpy as np, sys',
      'x = np.arange(12.0).reshape(4, 3) ** 0.5',
      'np.savez_compressed(sys.argv[1], arr_0=np.zeros((2, 8, 8, 3), np.uint8), mu=x.mean(0), sigma=np.cov(x, rowvar=False), mu_s=x.mean(0)[:2], sigma_s=np.eye(2))',
    ].join('\n');
    execFileSync(PYTHON, ['-c', script, file]);
    const back = decodeStatsNpz(readFileSync(file), file, { dim: 3, spatialDim: 2 });
    assert.equal(back.sigma.length, 9);
    assert.ok(Math.abs(back.mu[0] - (0 + Math.sqrt(3) + Math.sqrt(6) + 3) / 4) < 1e-15);
    assert.deepEqual([...(back.spatial?.sigma ?? [])], [1, 0, 0, 1]);
  });

  it('names the file and the field when a statistic is malformed', () => {
    const { mu, sigma } = stats(3);
    const file = (arrays: Parameters<typeof encodeNpz>[0]) => encodeNpz(arrays);
    assert.throws(
      () => decodeStatsNpz(file({ arr_0: npyArray(new Uint8Array(3), [3]) }), 'imgs.npz'),
      /imgs\.npz: .*"mu" \[d\] and "sigma".*holds arr_0/,
    );
    assert.throws(
      () => decodeStatsNpz(file({ mu: npyArray(mu, [3]), sigma: npyArray(sigma.subarray(0, 6), [3, 2]) }), 'r.npz'),
      /r\.npz: "sigma" must be a square matrix \[d, d\]; it is \[3, 2\]/,
    );
    assert.throws(
      () => decodeStatsNpz(file({ mu: npyArray(mu.subarray(0, 2), [2]), sigma: npyArray(sigma, [3, 3]) }), 'r.npz'),
      /r\.npz: "sigma" is \[3, 3\] but "mu" has d = 2/,
    );
    const bad = sigma.slice();
    bad[4] = Number.NaN;
    assert.throws(
      () => decodeStatsNpz(file({ mu: npyArray(mu, [3]), sigma: npyArray(bad, [3, 3]) }), 'r.npz'),
      /r\.npz: "sigma" holds NaN at flat index 4/,
    );
    assert.throws(
      () => decodeStatsNpz(file({ mu: npyArray(mu, [3]), sigma: npyArray(sigma, [3, 3]) }), 'r.npz', { dim: 2048 }),
      /"mu" has dimension 3, the feature network gives 2048/,
    );
    assert.throws(() => encodeStatsNpz({ mu, sigma: sigma.subarray(0, 4) }), /"sigma" holds 4 values; "mu" has d = 3, so it needs 9/);
  });
});
