import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidPayload, parseRunSpec, type RunSpecInput } from '@diffq/contract';

const valid: RunSpecInput = {
  runId: 'cifar10-fid-1',
  model: { uri: 's3://models/cifar10', id: 'cifar10-ddpm-ip', digest: 'ab'.repeat(32) },
  sampler: { kind: 'ddim', respacing: 'ddim50', eta: 0 },
  seeds: '0-49999',
  seedCount: 50000,
  createdAt: '2025-01-31T12:00:00.000Z',
  codeVersion: '0.1.0',
};

function problems(input: unknown): string[] {
  try {
    parseRunSpec(input);
  } catch (error) {
    assert.ok(error instanceof InvalidPayload);
    return [...error.problems];
  }
  assert.fail('parseRunSpec should have thrown');
}

describe('parseRunSpec', () => {
  it('fills in every default a producer may leave out', () => {
    const spec = parseRunSpec(valid);
    assert.deepEqual(spec.guidance, { kind: 'none' });
    assert.deepEqual(spec.labels, { policy: 'random' });
    assert.equal(spec.shardSize, 256);
    assert.equal(spec.format, 'npz');
    assert.equal(spec.statistics, undefined, 'no statistics unless asked');
    assert.equal(spec.priority, 0);
    assert.ok(spec.sampler.kind === 'ddpm' || spec.sampler.kind === 'ddim');
    assert.equal(spec.sampler.clipDenoised, true);
  });

  it('reads back its own output unchanged, as a manifest round trip does', () => {
    const spec = parseRunSpec({
      ...valid,
      guidance: { kind: 'classifier', classifier: { uri: '/models/clf', digest: 'cd'.repeat(32) }, scale: 2.5 },
      labels: { policy: 'fixed', classIndex: 3 },
      statistics: {
        kinds: ['fid', 'is'],
        features: {
          uri: '/models/inception',
          digest: 'ef'.repeat(32),
          architecture: 'fid-inception-v3',
          preprocess: 'tf1',
          featureDim: 2048,
        },
        reference: { uri: '/refs/cifar10.npz', digest: '01'.repeat(32) },
      },
    });
    assert.deepEqual(parseRunSpec(JSON.parse(JSON.stringify(spec))), spec);
  });

  it('names each bad field with its value and accepted range, one sentence each', () => {
    const found = problems({ ...valid, runId: 'Run_1', sampler: { kind: 'ddim', eta: 1.5 }, shardSize: 0 });
    assert.equal(found.length, 3);
    assert.match(found[0], /^runId must be 1 to 63 characters of a-z, 0-9 and "-".*\(got "Run_1"\)\.$/);
    assert.match(found[1], /^sampler\.eta must be a number from 0 to 1 \(got 1\.5\)\.$/);
    assert.match(found[2], /^shardSize must be an integer from 1 to 65536 \(got 0\)\.$/);
  });

  it('names the guidance variants when the kind is unknown', () => {
    assert.match(
      problems({ ...valid, guidance: { kind: 'cfg', scale: 3 } })[0],
      /^guidance\.kind must be one of "none", "classifier_free", "classifier" \(got "cfg"\)/,
    );
  });

  it('requires a positive classifier scale and a non-negative classifier-free weight', () => {
    assert.match(
      problems({ ...valid, guidance: { kind: 'classifier', classifier: { uri: '/c', digest: 'cd'.repeat(32) }, scale: 0 } })[0],
      /^guidance\.scale must be a number > 0/,
    );
    assert.match(problems({ ...valid, guidance: { kind: 'classifier_free', scale: -1 } })[0], /^guidance\.scale must be a number ≥ 0/);
    assert.equal(parseRunSpec({ ...valid, guidance: { kind: 'classifier_free', scale: 0 } }).guidance.kind, 'classifier_free');
  });

  it('records which channels classifier-free guidance combines: "all" when a manifest names none, 3 as DiT', () => {
    assert.deepEqual(parseRunSpec({ ...valid, guidance: { kind: 'classifier_free', scale: 0.5 } }).guidance, {
      kind: 'classifier_free',
      scale: 0.5,
      guidedChannels: 'all',
    });
    const dit = parseRunSpec({ ...valid, guidance: { kind: 'classifier_free', scale: 0.5, guidedChannels: 3 } });
    assert.deepEqual(parseRunSpec(JSON.parse(JSON.stringify(dit))), dit);
    assert.match(
      problems({ ...valid, guidance: { kind: 'classifier_free', scale: 0.5, guidedChannels: 4 } })[0],
      /^guidance\.guidedChannels must be 3 or "all" \(got 4\)/,
    );
  });

  it("pins a latent model's decoder by digest beside the denoiser's", () => {
    const decoder = { uri: '/models/sd-vae-ft-ema', digest: '12'.repeat(32) };
    const spec = parseRunSpec({ ...valid, model: { ...valid.model, decoder } });
    assert.deepEqual(spec.model.decoder, decoder);
    assert.match(
      problems({ ...valid, model: { ...valid.model, decoder: { uri: '/d', digest: 'xyz' } } })[0],
      /^model\.decoder\.digest must be a sha256 digest/,
    );
  });

  it('rejects eta for the ddpm sampler and a fixed label policy without a class', () => {
    assert.match(problems({ ...valid, sampler: { kind: 'ddpm', eta: 0.5 } })[0], /^sampler\.eta must be 0 for the ddpm sampler/);
    assert.match(
      problems({ ...valid, labels: { policy: 'fixed' } })[0],
      /^labels\.classIndex is required when the label policy is "fixed"/,
    );
  });

  it('checks the seed count against the seed list', () => {
    assert.match(
      problems({ ...valid, seedCount: 49999 })[0],
      /^seedCount must equal the number of seeds in "0-49999", 50000 \(got 49999\)/,
    );
    assert.match(problems({ ...valid, seeds: '0-9,5', seedCount: 10 })[0], /^seeds is not a valid seed list: seed 5 appears twice/);
  });

  it('rejects unknown fields so a misspelt option is not silently ignored', () => {
    assert.match(problems({ ...valid, shard_size: 64 })[0], /has unknown field "shard_size"/);
  });

  it('requires the statistics compared with a reference to name one, and no statistic twice', () => {
    const features = {
      uri: '/models/inception',
      digest: 'ef'.repeat(32),
      architecture: 'fid-inception-v3',
      preprocess: 'tf1',
      featureDim: 2048,
    };
    assert.match(
      problems({ ...valid, statistics: { kinds: ['fid', 'pr', 'is'], features } })[0],
      /^statistics\.reference is required for fid, pr/,
    );
    assert.match(problems({ ...valid, statistics: { kinds: ['kid'], features } })[0], /^statistics\.reference is required for kid/);
    assert.deepEqual(parseRunSpec({ ...valid, statistics: { kinds: ['is', 'accuracy'], features } }).statistics?.kinds, ['is', 'accuracy']);
    assert.match(problems({ ...valid, statistics: { kinds: ['is', 'is'], features } })[0], /^statistics\.kinds\[1\] must not repeat "is"/);
    assert.match(
      problems({ ...valid, statistics: { kinds: ['clipscore'], features } })[0],
      /^statistics\.kinds\[0\] must be one of "fid", "sfid", "is", "pr", "accuracy", "kid"/,
    );
  });
});
