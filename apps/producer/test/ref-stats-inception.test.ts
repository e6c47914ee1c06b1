import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeStatsNpz, encodeNpz, npyArray } from '@diffq/codecs';
import { featureStats } from '@diffq/metrics';
import { inceptionRuleWeights, readSafetensors, type TensorToWrite, writeSafetensors } from '@diffq/networks';
import { openFeatureNetwork } from '@diffq/onnx';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';

/** The golden case's 4 images (64×64 RGB) and its rule weights: a real Inception graph, small inputs. */
const CASE = join(import.meta.dirname, '../../../test/golden/cases/inception_features_64px_n4');
const caseJson = JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')) as { weight_seed: number };
const images = readSafetensors(new Uint8Array(readFileSync(join(CASE, 'tensors.safetensors')))).tensors.get('images')!;
const shape = images.shape as [number, number, number, number];
const pixels = Uint8Array.from(images.data as BigInt64Array, Number);

describe('diffq ref-stats --dims and --preprocess on the FID Inception network', () => {
  let dir: string;
  let network: string;
  let data: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-ref-inception-'));
    network = join(dir, 'inception');
    mkdirSync(network);
    const weights: Record<string, TensorToWrite> = Object.fromEntries(
      [...inceptionRuleWeights(caseJson.weight_seed)].map(([key, t]) => [key, { shape: t.shape, data: t.data as Float32Array }]),
    );
    writeFileSync(join(network, 'weights.safetensors'), writeSafetensors(weights));
    writeFileSync(join(network, 'model.json'), JSON.stringify({ format: 'diffq-model/1', architecture: 'fid-inception-v3' }));
    data = join(dir, 'images.npz');
    writeFileSync(data, encodeNpz({ arr_0: npyArray(pixels, [...shape]) }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the statistics of the block --dims names, computed and recorded with the --preprocess given', async () => {
    const out = join(dir, 'ref64.npz');
    const made = await runDiffq(['ref-stats', '--data', data, '--features', network, '--out', out, '--dims', '64', '--preprocess', 'tf1']);
    assert.equal(made.code, 0, made.err);
    const written = decodeStatsNpz(readFileSync(out), out);
    assert.equal(written.mu.length, 64, "pytorch-fid's --dims 64: the first max-pool block's 64 channels");
    assert.equal(written.preprocess, 'tf1');
    const expected = async (preprocess: 'tf1' | 'pytorch-fid') => {
      const net = await openFeatureNetwork(network, { dims: 64, preprocess });
      try {
        return featureStats(Float64Array.from((await net.extract(pixels, shape)).features), 64).mu;
      } finally {
        net.dispose();
      }
    };
    const tf1 = await expected('tf1');
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(written.mu[i] - tf1[i]) <= 1e-6 * (1 + Math.abs(tf1[i])), `mu[${i}]`);
    const pytorch = await expected('pytorch-fid');
    assert.ok(
      pytorch.some((m, i) => Math.abs(m - tf1[i]) > 1e-4 * (1 + Math.abs(m))),
      'the other preprocessing gives other features: the flag was applied',
    );
  });
});
