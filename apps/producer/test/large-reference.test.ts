import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeStatsNpz, encodeStatsNpz } from '@diffq/codecs';
import { featureStats, frechetDistance } from '@diffq/metrics';
import { writeRandomMnistClassifier } from '../../../test/fixtures/random-feature-model.ts';
import { PYTHON, pythonHas } from '../../../test/fixtures/reference-python.ts';

const hasNumpy = pythonHas(['numpy']);

/**
 * A reference batch as guided-diffusion's 512² ones are, over 2 GiB: `arr_0` (11,000 × 256 × 256 × 3
 * zeros, stored, zip64) first, then float64 mu [32], sigma [32, 32], mu_s [6], sigma_s [6, 6] from
 * a seeded generator, written as numpy.savez writes members.
 */
const WRITE_BATCH = `
import sys, zipfile, numpy as np
rng = np.random.default_rng(1)
x = rng.normal(size=(100, 32)); s = rng.normal(size=(100, 6))
arrays = {'mu': x.mean(0), 'sigma': np.cov(x, rowvar=False), 'mu_s': s.mean(0), 'sigma_s': np.cov(s, rowvar=False)}
zero = bytes(64 * 256 * 256 * 3)
with zipfile.ZipFile(sys.argv[1], 'w', compression=zipfile.ZIP_STORED, allowZip64=True) as z:
    with z.open('arr_0.npy', 'w', force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, {'descr': '|u1', 'fortran_order': False, 'shape': (11000, 256, 256, 3)})
        for r0 in range(0, 11000, 64):
            f.write(zero if r0 + 64 <= 11000 else bytes((11000 - r0) * 256 * 256 * 3))
    for name, a in arrays.items():
        with z.open(name + '.npy', 'w', force_zip64=True) as f:
            np.lib.format.write_array(f, a)
`;

/** `diffq <args>` in a child process; prints its result and its peak RSS. */
const RUN = `
import { main } from '@diffq/producer';
let out = '', err = '';
const code = await main(process.argv.slice(1), { out: (t) => (out += t), err: (t) => (err += t), tty: false });
console.log(JSON.stringify({ code, out, err, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
`;

function diffqChild(args: string[]): { code: number; out: string; err: string; maxRssMb: number } {
  const printed = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUN, ...args], { encoding: 'utf8' });
  return JSON.parse(printed.trim().split('\n').pop() as string);
}

describe('a reference batch over 2 GiB', () => {
  let dir: string;
  let big = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-large-ref-'));
    const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
    if (!hasNumpy || free < 5e9) return;
    big = join(dir, 'VIRTUAL_big.npz');
    execFileSync(PYTHON, ['-c', WRITE_BATCH, big]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // ~2.2 GB written by numpy (~25 s on the shared 2-core machine); the commands read only its statistics.
  it('serves diffq fid and diffq ref-stats from its statistics without reading its images, in under 1 GB', { timeout: 600_000 }, (t) => {
    if (!big) return t.skip('needs python3-numpy and 5 GB free in the temp dir');
    assert.ok(statSync(big).size > 2 ** 31, 'the file is over 2 GiB, more than Node reads into one buffer');
    const other = join(dir, 'other.npz');
    const x = Float64Array.from({ length: 80 * 32 }, (_, i) => Math.sin(i * 0.7) + (i % 32) / 32);
    writeFileSync(other, encodeStatsNpz(featureStats(x, 32)));
    const fid = diffqChild(['fid', big, other, '--json']);
    assert.equal(fid.code, 0, fid.err);
    const result = JSON.parse(fid.out);
    assert.equal(result.a.how, 'stats npz');
    assert.ok(fid.maxRssMb < 1000, `peak RSS ${fid.maxRssMb} MB`);

    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const out = join(dir, 'kept.npz');
    const kept = diffqChild(['ref-stats', '--data', big, '--features', features, '--out', out, '--json']);
    assert.equal(kept.code, 0, kept.err);
    assert.equal(JSON.parse(kept.out).statistics, 'kept');
    assert.match(kept.err, /VIRTUAL_big\.npz does not record its preprocessing/);
    const written = decodeStatsNpz(readFileSync(out), out);
    assert.ok(written.spatial, 'mu_s and sigma_s are kept too');
    const expected = frechetDistance(written, decodeStatsNpz(readFileSync(other), other));
    assert.ok(Math.abs(result.fid - expected) <= 1e-9 * expected, `the FID of the kept statistics: ${result.fid} vs ${expected}`);
    assert.ok(kept.maxRssMb < 1000, `peak RSS ${kept.maxRssMb} MB`);
  });
});
