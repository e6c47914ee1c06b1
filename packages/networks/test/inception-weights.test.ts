import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inceptionConvs, inceptionParamSpecs } from '../src/inception/inception-v3.ts';
import { inceptionRuleTensor, inceptionRuleWeights } from '../src/inception/inception-weight-rule.ts';
import { readSafetensors } from '../src/weights/safetensors.ts';

const CASES = join(import.meta.dirname, '../../../test/golden/cases');

function goldenCase(name: string) {
  const json = JSON.parse(readFileSync(join(CASES, name, 'case.json'), 'utf8')) as {
    weight_seed: number;
    weight_keys: [string, number[]][];
  };
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(CASES, name, 'tensors.safetensors'))));
  return { json, checksums: tensors.get('weight_checksums')!.data as Float64Array, head: tensors.get('weight_head')!.data as Float32Array };
}

/** Sum and sum of squares (float64) of a tensor's float32 values, as the cases record them. */
function checksum(data: Float32Array): [number, number] {
  let sum = 0;
  let squares = 0;
  for (const v of data) {
    sum += v;
    squares += v * v;
  }
  return [sum, squares];
}

describe('the FID Inception network description', () => {
  it("has pytorch-fid's 472 state_dict keys and shapes, in its order", () => {
    const { json } = goldenCase('inception_features_32px_n6');
    assert.deepEqual(
      inceptionParamSpecs().map((s) => [s.key, s.shape]),
      json.weight_keys,
    );
    assert.equal(inceptionConvs().length, 94);
  });
});

describe('the inception_features weight rule', () => {
  it("reproduces every tensor's checksum and first values of a case", () => {
    const { json, checksums, head } = goldenCase('inception_features_32px_n6');
    [...inceptionRuleWeights(json.weight_seed).values()].forEach((t, i) => {
      const data = t.data as Float32Array;
      const [sum, squares] = checksum(data);
      // A different libm may move the last bit of a few normals: far below these bounds.
      assert.ok(Math.abs(sum - checksums[2 * i]) <= 1e-9 * Math.sqrt(checksums[2 * i + 1]), `tensor ${i} sum`);
      assert.ok(Math.abs(squares - checksums[2 * i + 1]) <= 1e-9 * checksums[2 * i + 1], `tensor ${i} sum of squares`);
      assert.deepEqual(data.subarray(0, 4), head.subarray(4 * i, 4 * i + 4), `tensor ${i} head`);
    });
  });

  it('keys seeds above 2^32 by both words (a bn vector, a conv kernel and fc.bias of the second case)', () => {
    const { json, checksums, head } = goldenCase('inception_features_64px_n4');
    assert.ok(json.weight_seed > 2 ** 32);
    for (const i of [1, 4, 5, 471]) {
      const { key, tensor } = inceptionRuleTensor(json.weight_seed, i);
      const data = tensor.data as Float32Array;
      assert.equal(key, json.weight_keys[i][0]);
      const [sum, squares] = checksum(data);
      assert.ok(Math.abs(squares - checksums[2 * i + 1]) <= 1e-9 * checksums[2 * i + 1], `${key} sum of squares`);
      assert.ok(Math.abs(sum - checksums[2 * i]) <= 1e-9 * Math.sqrt(checksums[2 * i + 1]), `${key} sum`);
      assert.deepEqual(data.subarray(0, 4), head.subarray(4 * i, 4 * i + 4), `${key} head`);
    }
  });
});
