import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeStatsNpz, encodeNpz, encodePng, encodeStatsNpz, imageOf, npyArray } from '@diffq/codecs';
import { keys } from '@diffq/contract';
import { mnistDigits } from '@diffq/datasets';
import { seedNormals } from '@diffq/diffusion';
import { featureStats, frechetDistance } from '@diffq/metrics';
import { openFeatureNetwork } from '@diffq/onnx';
import { openStore, writeManifest } from '@diffq/storage';
import { writeRandomMnistClassifier } from '../../../test/fixtures/random-feature-model.ts';
import { PYTHON, skipUnlessPython } from '../../../test/fixtures/reference-python.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { type Io, main } from '../src/cli.ts';
import { evenlySpaced, refStats } from '../src/ref-stats.ts';

const REDIS_URL = testRedisUrl(7);
const needScipy = skipUnlessPython(['numpy', 'scipy']);
const hasScipy = needScipy === false;

/** pytorch-fid's calculate_frechet_distance on two stats files, with numpy and scipy. */
const PYTORCH_FID = `
import sys, numpy as np
from scipy import linalg
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
mu1, sigma1, mu2, sigma2 = a['mu'], a['sigma'], b['mu'], b['sigma']
diff = mu1 - mu2
covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
if not np.isfinite(covmean).all():
    offset = np.eye(sigma1.shape[0]) * 1e-6
    covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
if np.iscomplexobj(covmean):
    covmean = covmean.real
print(repr(float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))))
`;

async function diffq(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    tty: false,
  };
  const code = await main(['--redis', REDIS_URL, '--prefix', 'fid-cli', ...args], io).catch((error: Error) => {
    err += error.message;
    return 1;
  });
  return { code, out, err };
}

/** Statistics of n samples of correlated, shifted features of dimension d. */
function stats(seed: number, n: number, d: number, shift: number) {
  const x = Float64Array.from(seedNormals(seed, 0, n * d), (v, i) => v * (1 + (i % d) / d) + shift * Math.sin(i % d));
  return featureStats(x, d);
}

describe('diffq fid and diffq ref-stats', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-fid-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives pytorch-fid’s FID of two stats files (numpy + scipy.linalg.sqrtm) to 1e-6 relative', { skip: needScipy }, async () => {
    for (const [d, n1, n2] of [
      [64, 500, 300],
      [200, 400, 1000],
    ]) {
      const a = join(dir, `a${d}.npz`);
      const b = join(dir, `b${d}.npz`);
      writeFileSync(a, encodeStatsNpz(stats(1, n1, d, 0)));
      writeFileSync(b, encodeStatsNpz(stats(2, n2, d, 0.3)));
      const run = await diffq(['fid', a, b, '--json']);
      assert.equal(run.code, 0, run.err);
      const result = JSON.parse(run.out);
      const expected = Number(execFileSync(PYTHON, ['-c', PYTORCH_FID, a, b], { encoding: 'utf8' }));
      assert.ok(Math.abs(result.fid - expected) <= 1e-6 * expected, `d=${d}: diffq ${result.fid}, pytorch-fid ${expected}`);
      assert.deepEqual([result.a.how, result.a.dim], ['stats npz', d]);
    }
  });

  it('writes reference statistics numpy loads, whose FID against the same images is 0 and against others pytorch-fid’s', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const out = join(dir, 'heldout.npz');
    const made = await diffq(['ref-stats', '--data', 'mnist-heldout', '--features', features, '--out', out, '--json']);
    assert.equal(made.code, 0, made.err);
    const summary = JSON.parse(made.out);
    assert.equal(summary.samples, 2000);
    if (hasScipy) {
      const shapes = execFileSync(
        PYTHON,
        ['-c', "import numpy as np, sys; f = np.load(sys.argv[1]); print(f['mu'].dtype, f['mu'].shape, f['sigma'].shape)", out],
        { encoding: 'utf8' },
      ).trim();
      assert.equal(shapes, `float64 (${summary.dim},) (${summary.dim}, ${summary.dim})`);
    }
    const digits = await mnistDigits('heldout');
    const images = join(dir, 'digits.npz');
    writeFileSync(images, encodeNpz({ arr_0: npyArray(digits.images, digits.shape) }));
    const same = await diffq(['fid', out, images, '--features', features, '--json']);
    assert.equal(same.code, 0, same.err);
    const result = JSON.parse(same.out);
    assert.equal(result.b.samples, 2000);
    assert.ok(Math.abs(result.fid) < 1e-6, `FID of a set against itself: ${result.fid}`);
    const train = await mnistDigits('train');
    const other = join(dir, 'train.npz');
    writeFileSync(other, encodeNpz({ arr_0: npyArray(train.images.subarray(0, 300 * 784), [300, 28, 28, 1]) }));
    const apart = JSON.parse((await diffq(['fid', out, other, '--features', features, '--json'])).out);
    assert.equal(apart.b.samples, 300);
    if (hasScipy) {
      // The same 300 images' statistics written by ref-stats, then pytorch-fid's formula on the two files.
      const otherStats = join(dir, 'train-stats.npz');
      assert.equal((await diffq(['ref-stats', '--data', other, '--features', features, '--out', otherStats])).code, 0);
      const expected = Number(execFileSync(PYTHON, ['-c', PYTORCH_FID, out, otherStats], { encoding: 'utf8' }));
      assert.ok(expected > 1e-4, `the random network still tells the two sets apart: pytorch-fid ${expected}`);
      assert.ok(
        Math.abs(apart.fid - expected) <= 1e-6 * expected,
        `held-out digits against 300 training digits: ${apart.fid} vs pytorch-fid ${expected}`,
      );
    }
  });

  it('refuses images without a feature network and statistics of different dimensions, naming the files', async () => {
    const a = join(dir, 'd8.npz');
    const b = join(dir, 'd9.npz');
    writeFileSync(a, encodeStatsNpz(stats(3, 50, 8, 0)));
    writeFileSync(b, encodeStatsNpz(stats(4, 50, 9, 0)));
    const mismatch = await diffq(['fid', a, b]);
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.err, /d8\.npz has 8-d statistics and .*d9\.npz 9-d ones/);
    const images = join(dir, 'images.npz');
    writeFileSync(images, encodeNpz({ arr_0: npyArray(new Uint8Array(2 * 28 * 28), [2, 28, 28, 1]) }));
    const noNetwork = await diffq(['fid', a, images]);
    assert.match(noNetwork.err, /images\.npz holds images: give --features/);
    const missing = await diffq(['fid', a, join(dir, 'nope.npz')]);
    assert.match(missing.err, /nope\.npz does not exist/);
  });

  it("reads a run's stats.npz by run id, and says when a run has nothing to compare yet", async () => {
    const storeUrl = `file://${join(dir, 'runs')}`;
    const store = openStore(storeUrl);
    const manifest = (runId: string) =>
      writeManifest(store, {
        runId,
        model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
        sampler: { kind: 'ddim', respacing: '4' },
        seeds: '0-9',
        seedCount: 10,
        shardSize: 5,
        createdAt: new Date().toISOString(),
        codeVersion: 'test',
      });
    await manifest('finished');
    await manifest('empty');
    const runStats = stats(5, 300, 16, 0);
    await store.put(keys.stats('finished'), encodeStatsNpz(runStats));
    const ref = join(dir, 'ref16.npz');
    const refStats = stats(6, 300, 16, 0.5);
    writeFileSync(ref, encodeStatsNpz(refStats));
    const run = await diffq(['--store', storeUrl, 'fid', 'finished', ref, '--json']);
    assert.equal(run.code, 0, run.err);
    const result = JSON.parse(run.out);
    assert.equal(result.a.source, 'run finished');
    assert.equal(result.a.how, 'stats.npz of the finalizer');
    assert.ok(Math.abs(result.fid - frechetDistance(runStats, refStats)) < 1e-9 * result.fid);
    const empty = await diffq(['--store', storeUrl, 'fid', 'empty', ref]);
    assert.match(empty.err, /run empty has no done shards yet/);
    store.close();
  });

  it('reads a folder of greyscale PNGs as 1-channel images, giving the FID of the same images as an npz', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const digits = await mnistDigits('heldout');
    const n = 120;
    const folder = join(dir, 'grey-pngs');
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < n; i++) {
      writeFileSync(join(folder, `${String(i).padStart(6, '0')}.png`), encodePng(imageOf(digits.images, i, 28, 28, 1)));
    }
    const asNpz = join(dir, 'grey.npz');
    writeFileSync(asNpz, encodeNpz({ arr_0: npyArray(digits.images.slice(0, n * 784), [n, 28, 28, 1]) }));
    const ref = join(dir, 'grey-ref.npz');
    assert.equal((await diffq(['ref-stats', '--data', 'mnist-train', '--features', features, '--out', ref])).code, 0);
    const fromPngs = await diffq(['fid', folder, ref, '--features', features, '--json']);
    assert.equal(fromPngs.code, 0, fromPngs.err);
    const fromNpz = JSON.parse((await diffq(['fid', asNpz, ref, '--features', features, '--json'])).out);
    const png = JSON.parse(fromPngs.out);
    assert.equal(png.a.samples, n);
    assert.equal(png.fid, fromNpz.fid, 'the decoded grey PNGs are the npz’s pixels');
  });

  it('records the preprocessing in the stats it writes, and warns when the other side’s is unknown or different', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const out = join(dir, 'recorded.npz');
    assert.equal((await diffq(['ref-stats', '--data', 'mnist-heldout', '--features', features, '--out', out])).code, 0);
    assert.equal(decodeStatsNpz(readFileSync(out), out).preprocess, 'none');
    if (hasScipy) {
      const read = execFileSync(PYTHON, ['-c', "import numpy as np, sys; print(bytes(np.load(sys.argv[1])['preprocess']).decode())", out], {
        encoding: 'utf8',
      });
      assert.equal(read.trim(), 'none', 'numpy reads the recorded mode');
    }
    const images = join(dir, 'few.npz');
    const digits = await mnistDigits('train');
    writeFileSync(images, encodeNpz({ arr_0: npyArray(digits.images.slice(0, 50 * 784), [50, 28, 28, 1]) }));
    const same = await diffq(['fid', out, images, '--features', features, '--json']);
    assert.deepEqual(JSON.parse(same.out).warnings, [], 'same preprocessing on both sides: nothing to say');
    assert.equal(same.err, '');

    const { preprocess: _mode, ...unrecorded } = decodeStatsNpz(readFileSync(out), out);
    const pytorchFidStyle = join(dir, 'unrecorded.npz');
    writeFileSync(pytorchFidStyle, encodeStatsNpz(unrecorded));
    const unknown = await diffq(['fid', pytorchFidStyle, images, '--features', features]);
    assert.equal(unknown.code, 0, unknown.err);
    assert.match(unknown.err, /diffq fid: warning: .*unrecorded\.npz does not record its preprocessing; this side uses "none"/);
    assert.match(unknown.out, /warning: .*unrecorded\.npz does not record/);

    const tf1 = join(dir, 'tf1.npz');
    writeFileSync(tf1, encodeStatsNpz({ ...unrecorded, preprocess: 'tf1' }));
    const other = JSON.parse((await diffq(['fid', tf1, images, '--features', features, '--json'])).out);
    assert.equal(other.warnings.length, 1);
    assert.match(
      other.warnings[0],
      /tf1\.npz was computed with preprocessing "tf1"; this side uses "none" — the numbers are not comparable/,
    );
    assert.deepEqual([other.a.preprocess, other.b.preprocess], ['tf1', 'none']);
  });

  it('refuses --preprocess and --dims a network does not offer, naming what is accepted', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const out = join(dir, 'never.npz');
    const mode = await diffq(['ref-stats', '--data', 'mnist-heldout', '--features', features, '--out', out, '--preprocess', 'tf1']);
    assert.notEqual(mode.code, 0);
    assert.match(mode.err, /--preprocess tf1: the mnist-classifier feature network has one preprocessing, "none"/);
    const dims = await diffq(['ref-stats', '--data', 'mnist-heldout', '--features', features, '--out', out, '--dims', '64']);
    assert.match(dims.err, /--dims 64: the mnist-classifier feature network gives 32-d features only/);
    const unknown = await diffq([
      'ref-stats',
      '--data',
      'mnist-heldout',
      '--features',
      features,
      '--out',
      out,
      '--dims',
      '100',
      '--preprocess',
      'tf2',
    ]);
    assert.match(unknown.err, /--preprocess is "tf2"; accepted: pytorch-fid, tf1/);
    assert.match(unknown.err, /--dims is 100; accepted: 64, 192, 768, 2048/);
  });

  it('keeps a reference batch’s own statistics and computes only its feature rows, spread evenly over a class-sorted set', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const digits = await mnistDigits('heldout');
    const net = await openFeatureNetwork(features);
    // Sorted by class, as an ImageFolder is: the first rows are all zeros.
    const order = Array.from({ length: 2000 }, (_, i) => i).sort((a, b) => digits.labels[a] - digits.labels[b] || a - b);
    const sorted = new Uint8Array(2000 * 784);
    for (const [to, from] of order.entries()) sorted.set(digits.images.subarray(from * 784, (from + 1) * 784), to * 784);
    const all = (await net.extract(sorted, [2000, 28, 28, 1])).features;
    net.dispose();
    const gaussian = stats(8, 100, 32, 0.2);
    const batch = join(dir, 'VIRTUAL_sorted.npz');
    writeFileSync(
      batch,
      encodeNpz({ arr_0: npyArray(sorted, [2000, 28, 28, 1]), mu: npyArray(gaussian.mu, [32]), sigma: npyArray(gaussian.sigma, [32, 32]) }),
    );
    const out = join(dir, 'sorted-ref.npz');
    const r = await refStats({ data: batch, features, out, sfid: false, pr: true, rows: 500 });
    const written = decodeStatsNpz(readFileSync(out), out);
    assert.deepEqual(written.mu, gaussian.mu, 'mu as the file holds it');
    assert.deepEqual(written.sigma, gaussian.sigma, 'sigma as the file holds it');
    assert.equal(r.statistics, 'kept');
    assert.equal(written.preprocess, undefined, 'an unrecorded mode stays unrecorded');
    assert.match(r.warnings[0], /VIRTUAL_sorted\.npz's mu\/sigma does not record its preprocessing/);
    const rows = written.features as Float32Array;
    assert.equal(rows.length, 500 * 32);
    for (const [k, i] of evenlySpaced(2000, 500).entries()) {
      assert.deepEqual(rows.subarray(k * 32, (k + 1) * 32), all.subarray(i * 32, (i + 1) * 32), `row ${k} is image ${i}`);
    }
    const perClass = new Map<number, number>();
    for (const i of evenlySpaced(2000, 500)) perClass.set(digits.labels[order[i]], (perClass.get(digits.labels[order[i]]) ?? 0) + 1);
    const share = (c: number) => digits.labels.filter((l) => l === c).length / 4;
    for (let c = 0; c < 10; c++) assert.ok(Math.abs((perClass.get(c) ?? 0) - share(c)) <= 1, `class ${c}: ${perClass.get(c)} rows`);
    assert.match(r.rowsChosen ?? '', /500 of 2000 images, evenly spaced/);
  });
});
