import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpz, encodeNpz, encodeStatsNpz, npyArray } from '@diffq/codecs';
import { openStore, sha256Hex, writeManifest } from '@diffq/storage';
import { writeRandomMnistClassifier } from '../../../test/fixtures/random-feature-model.ts';
import {
  checkStatistics,
  checkStatisticsFlags,
  gatherStatisticsFacts,
  parseStatKinds,
  resolveBeside,
  type StatisticsFacts,
  statisticsSpec,
} from '../src/statistics-flags.ts';

const inception: StatisticsFacts = {
  kinds: ['fid', 'sfid', 'is', 'pr'],
  features: {
    uri: '/models/inception',
    digest: 'a'.repeat(64),
    info: {
      architecture: 'fid-inception-v3',
      featureDim: 2048,
      logitDim: 1008,
      spatialDim: 2023,
      channels: [1, 3],
      imageSize: null,
      preprocess: 'pytorch-fid',
      numClasses: null,
    },
  },
  reference: { uri: '/refs/cifar10.npz', digest: 'b'.repeat(64), dim: 2048, spatialDim: 2023, featureRows: 10000 },
};

describe('--stats, --features and --ref', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-stat-flags-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names every unknown statistic and what is accepted', () => {
    assert.deepEqual(parseStatKinds('fid, is,fid').kinds, ['fid', 'is']);
    assert.deepEqual(parseStatKinds('fid,clipscore,FID').problems, [
      '--stats "clipscore" is not a statistic; accepted: fid, sfid, is, pr, accuracy, kid (comma-separated)',
      '--stats "FID" is not a statistic; accepted: fid, sfid, is, pr, accuracy, kid (comma-separated)',
    ]);
    assert.match(checkStatisticsFlags({ stats: ',' })[0], /--stats is empty/);
    assert.deepEqual(checkStatisticsFlags({ ref: 'r1', features: '/f' }), [
      '--features applies with --stats (the statistics to compute)',
      '--ref applies with --stats (the statistics to compute)',
    ]);
  });

  it('resolves model.json evaluation paths against a local or an s3:// model directory', () => {
    assert.equal(
      resolveBeside('/repo/models/mnist', '../mnist-classifier/heldout-stats.npz'),
      '/repo/models/mnist-classifier/heldout-stats.npz',
    );
    assert.equal(resolveBeside('s3://bucket/models/mnist', '../mnist-classifier'), 's3://bucket/models/mnist-classifier');
    assert.equal(resolveBeside('/repo/models/mnist', 's3://other/f'), 's3://other/f');
  });

  it('accepts a consistent set, and reports each mismatch with the values on both sides', () => {
    assert.deepEqual(checkStatistics(inception, { imageSize: 32, channels: 3, classes: null }), []);
    const problems = checkStatistics(
      {
        ...inception,
        kinds: ['fid', 'sfid', 'pr', 'accuracy'],
        features: { ...inception.features, info: { ...inception.features.info, channels: [1], imageSize: 28, spatialDim: null } },
        reference: { uri: '/refs/r.npz', digest: 'b'.repeat(64), dim: 64, spatialDim: null, featureRows: 0 },
      },
      { imageSize: 32, channels: 3, classes: null },
    );
    const expected = [
      /takes images of 1 channels; the model samples 3/,
      /takes 28×28 images; the model samples 32×32/,
      /--ref \/refs\/r.npz holds statistics of dimension 64; .* gives features of dimension 2048/,
      /--stats sfid needs spatial features/,
      /--stats pr needs reference feature rows .* holds 0/,
      /--stats accuracy needs a class-conditional model/,
    ];
    assert.equal(problems.length, expected.length, problems.join('\n'));
    for (const [i, re] of expected.entries()) assert.match(problems[i], re);
  });

  it('checks class accuracy against the classes the feature network tells apart', () => {
    const mnist: StatisticsFacts = {
      kinds: ['accuracy'],
      features: {
        uri: '/models/c',
        digest: 'c'.repeat(64),
        info: {
          ...inception.features.info,
          architecture: 'mnist-classifier',
          featureDim: 32,
          logitDim: 10,
          numClasses: 10,
          spatialDim: null,
          channels: [1],
          imageSize: 28,
        },
      },
    };
    assert.deepEqual(checkStatistics(mnist, { imageSize: 28, channels: 1, classes: 10 }), []);
    assert.match(checkStatistics(mnist, { imageSize: 28, channels: 1, classes: 26 })[0], /draws 26 classes; .* tells 10 apart/);
  });

  it('reads the feature network and the reference it is given, and pins them by sha256 in the manifest', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const refBytes = encodeStatsNpz({ mu: new Float64Array(32), sigma: new Float64Array(32 * 32), features: new Float32Array(8 * 32) });
    writeFileSync(join(dir, 'ref.npz'), refBytes);
    const { facts, problems } = await gatherStatisticsFacts(
      { stats: 'fid,pr,is', features, ref: join(dir, 'ref.npz') },
      undefined,
      `file://${dir}/runs`,
    );
    assert.deepEqual(problems, []);
    assert.ok(facts);
    assert.deepEqual(facts.reference, {
      uri: join(dir, 'ref.npz'),
      digest: sha256Hex(refBytes),
      dim: 32,
      spatialDim: null,
      featureRows: 8,
    });
    assert.deepEqual(checkStatistics(facts, { imageSize: 28, channels: 1, classes: 10 }), []);
    const spec = statisticsSpec(facts);
    assert.deepEqual(spec.features, {
      uri: features,
      digest: facts.features.digest,
      architecture: 'mnist-classifier',
      preprocess: 'none',
      featureDim: 32,
    });
    assert.deepEqual(spec.reference, { uri: join(dir, 'ref.npz'), digest: sha256Hex(refBytes) });
  });

  it('takes the model’s evaluation defaults, a finished run as reference, and reports what cannot be read', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const refBytes = encodeStatsNpz({ mu: new Float64Array(32), sigma: new Float64Array(32 * 32) });
    mkdirSync(join(dir, 'runs', 'earlier'), { recursive: true });
    writeFileSync(join(dir, 'runs', 'earlier', 'stats.npz'), refBytes);
    writeFileSync(join(dir, 'floor.npz'), refBytes);
    const defaults = { features, reference: join(dir, 'runs', 'earlier', 'stats.npz'), floor: join(dir, 'floor.npz') };
    const fromModel = await gatherStatisticsFacts({ stats: 'fid' }, defaults, `file://${dir}/runs`);
    assert.deepEqual(fromModel.problems, []);
    assert.equal(fromModel.facts?.floor?.uri, join(dir, 'floor.npz'), 'the model’s floor comes with the model’s reference');
    const otherNetwork = await gatherStatisticsFacts({ stats: 'fid', features }, defaults, `file://${dir}/runs`);
    assert.match(otherNetwork.problems[0], /--stats fid needs --ref/, 'the model’s reference belongs to the model’s feature network');

    const byRun = await gatherStatisticsFacts({ stats: 'fid', features, ref: 'earlier' }, defaults, `file://${dir}/runs`);
    assert.deepEqual(byRun.problems, []);
    assert.match(byRun.facts?.reference?.uri ?? '', /\/runs\/earlier\/stats\.npz$/);
    assert.equal(byRun.facts?.floor, undefined, 'no floor against another reference');

    // A run whose statistics another feature network computed is no reference for this one.
    await writeManifest(openStore(`file://${dir}/runs`), {
      runId: 'earlier',
      model: { uri: '/models/m', id: 'm', digest: 'ab'.repeat(32) },
      sampler: { kind: 'ddpm' },
      seeds: '0-9',
      seedCount: 10,
      statistics: {
        kinds: ['is'],
        features: { uri: '/other', digest: 'cd'.repeat(32), architecture: 'mnist-classifier', preprocess: 'none', featureDim: 32 },
      },
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
    const otherRun = await gatherStatisticsFacts({ stats: 'fid', features, ref: 'earlier' }, defaults, `file://${dir}/runs`);
    assert.match(
      otherRun.problems[0] ?? '',
      /--ref earlier: that run's statistics come from feature network \/other .*FIDs are comparable only with one network/,
    );

    const missing = await gatherStatisticsFacts(
      { stats: 'fid', features: join(dir, 'nope'), ref: 'later' },
      undefined,
      `file://${dir}/runs`,
    );
    assert.equal(missing.problems.length, 2, missing.problems.join('\n'));
    assert.match(missing.problems[0], /--features .*nope: no model.json there/);
    assert.match(missing.problems[1], /--ref later \(run later's stats.npz.*does not exist/);
    const none = await gatherStatisticsFacts({ stats: 'is' }, undefined, `file://${dir}/runs`);
    assert.match(none.problems[0], /--stats needs --features/);
  });

  it('takes a reference batch (arr_0 beside mu, sigma) for precision/recall, checks its images and says when its preprocessing differs', async () => {
    const features = writeRandomMnistClassifier(join(dir, 'classifier'));
    const gaussian = { mu: new Float64Array(32), sigma: new Float64Array(32 * 32) };
    const batch = (images: Uint8Array, shape: number[], preprocess?: string) => {
      const { arr_0: _none, ...stats } = decodeNpz(encodeStatsNpz({ ...gaussian, ...(preprocess ? { preprocess } : {}) }));
      return encodeNpz({ arr_0: npyArray(images, shape), ...stats });
    };
    writeFileSync(join(dir, 'VIRTUAL_mnist.npz'), batch(new Uint8Array(50 * 28 * 28), [50, 28, 28, 1]));
    const accepted = await gatherStatisticsFacts(
      { stats: 'fid,pr,kid', features, ref: join(dir, 'VIRTUAL_mnist.npz') },
      undefined,
      `file://${dir}/runs`,
    );
    assert.deepEqual(accepted.problems, []);
    assert.ok(accepted.facts);
    assert.deepEqual([accepted.facts.reference?.featureRows, accepted.facts.reference?.images], [0, [50, 28, 28, 1]]);
    assert.deepEqual(checkStatistics(accepted.facts, { imageSize: 28, channels: 1, classes: null }), [], '--stats pr is no longer refused');
    assert.equal(accepted.facts.warnings?.length, 1);
    assert.match(accepted.facts.warnings?.[0] ?? '', /VIRTUAL_mnist\.npz does not record its preprocessing; this side uses "none"/);

    writeFileSync(join(dir, 'VIRTUAL_rgb.npz'), batch(new Uint8Array(3 * 32 * 32 * 3), [3, 32, 32, 3], 'tf1'));
    const rgb = await gatherStatisticsFacts({ stats: 'pr', features, ref: join(dir, 'VIRTUAL_rgb.npz') }, undefined, `file://${dir}/runs`);
    assert.ok(rgb.facts);
    assert.match(
      rgb.facts.warnings?.[0] ?? '',
      /VIRTUAL_rgb\.npz was computed with preprocessing "tf1"; this side uses "none" — the numbers are not comparable/,
    );
    const problems = checkStatistics(rgb.facts, { imageSize: 28, channels: 1, classes: null });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0], /--stats pr needs at least 4 reference images; .*VIRTUAL_rgb\.npz holds 3 in "arr_0"/);
    assert.match(problems[1], /holds images of 3 channels; .* takes 1/);
    assert.match(problems[2], /holds 32×32 images; .* takes 28×28/);
  });
});
