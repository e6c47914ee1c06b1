import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseShardMeta, SHARD_META_FORMAT } from '@diffq/contract';

const meta = {
  format: SHARD_META_FORMAT,
  runId: 'run-1',
  shardIndex: 0,
  seeds: [0, 1, 2],
  labels: [7, 0, 3],
  npzSha256: '0f'.repeat(32),
  npzBytes: 12345,
  worker: { id: 'host-a/1234', batchSize: 2 },
  engine: 'tfjs wasm',
  precision: 'float32',
  startedAt: '2025-01-31T12:00:00.000Z',
  finishedAt: '2025-01-31T12:01:00.000Z',
  timings: { sample: 58.2, encode: 0.4 },
};

describe('shard metadata', () => {
  it('round-trips through JSON', () => {
    assert.deepEqual(parseShardMeta(JSON.parse(JSON.stringify(meta))), meta);
    assert.equal(parseShardMeta({ ...meta, labels: null }).labels, null);
  });

  it('keeps what ran each network, and reads a shard written before it was recorded', () => {
    const providers = { denoiser: 'cuda', decoder: 'cpu', features: 'webgpu' };
    assert.deepEqual(parseShardMeta(JSON.parse(JSON.stringify({ ...meta, providers }))).providers, providers);
    assert.deepEqual(parseShardMeta({ ...meta, providers: { denoiser: 'wasm' } }).providers, { denoiser: 'wasm' });
    assert.equal(parseShardMeta(meta).providers, undefined);
    assert.throws(() => parseShardMeta({ ...meta, providers: { decoder: 'cpu' } }), /providers\.denoiser/);
    assert.throws(() => parseShardMeta({ ...meta, providers: { denoiser: 'cpu', classifier: 'cpu' } }), /classifier/);
  });

  it('wants one label per seed', () => {
    assert.throws(() => parseShardMeta({ ...meta, labels: [1] }), /labels must hold one label per seed, 3, or be null \(holds 1\)/);
  });

  it('wants a lowercase hex sha256 of the npz', () => {
    assert.throws(() => parseShardMeta({ ...meta, npzSha256: 'ABC' }), /npzSha256 must be a sha256 digest/);
  });
});
