import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import {
  createUNet,
  parseUNetConfig,
  randomUNetWeights,
  readSafetensors,
  type StoredTensor,
  type TensorToWrite,
  unetForward,
  writeSafetensors,
} from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import { UNET_8 } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const config = parseUNetConfig(UNET_8);

/** Random weights rounded to multiples of 1/128 below 2 in magnitude: exact in F16 and in BF16. */
function halfExactStateDict(): Map<string, StoredTensor> {
  const dict = randomUNetWeights(config, 7);
  for (const t of dict.values()) {
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) data[i] = Math.max(-255, Math.min(255, Math.round(data[i] * 128))) / 128;
  }
  return dict;
}

/** IEEE half bits of a value known to be an exact normal half (or zero). */
function f16Bits(v: number): number {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

/** bfloat16 bits: the top half of the float32 pattern (exact for the values used here). */
function bf16Bits(v: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, v, true);
  return view.getUint32(0, true) >>> 16;
}

function encode(dict: Map<string, StoredTensor>, dtype: 'F32' | 'F16' | 'BF16'): Uint8Array {
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of dict) {
    const data = t.data as Float32Array;
    out[k] =
      dtype === 'F32'
        ? { shape: t.shape, data }
        : { shape: t.shape, dtype, data: Uint16Array.from(data, dtype === 'F16' ? f16Bits : bf16Bits) };
  }
  return writeSafetensors(out);
}

async function forwardOf(stateDict: Map<string, StoredTensor>): Promise<Float32Array> {
  const unet = createUNet(config, stateDict);
  const out = tf.tidy(() =>
    unetForward(
      unet,
      tf.randomNormal([2, 3, 8, 8], 0, 1, 'float32', 3) as tf.Tensor4D,
      tf.tensor1d([4, 400]),
      tf.tensor1d([0, 2], 'int32'),
    ),
  );
  const data = (await out.data()) as Float32Array;
  out.dispose();
  unet.dispose();
  return data;
}

describe('checkpoint dtypes', () => {
  it('loads F16 and BF16 checkpoints to the same network as the float32 one', async () => {
    const dict = halfExactStateDict();
    const f32 = await forwardOf(readSafetensors(encode(dict, 'F32')).tensors);
    for (const dtype of ['F16', 'BF16'] as const) {
      const file = readSafetensors(encode(dict, dtype));
      assert.equal(file.tensors.get('out.2.weight')!.dtype, dtype);
      assert.deepEqual(await forwardOf(file.tensors), f32, `${dtype} checkpoint`);
    }
  });

  it('refuses an integer tensor under a weight key, naming key and dtype', () => {
    const dict = halfExactStateDict();
    const shape = dict.get('label_emb.weight')!.shape;
    dict.set('label_emb.weight', { dtype: 'I32', shape, data: new Int32Array(shape[0] * shape[1]) });
    assert.throws(() => createUNet(config, dict), /key "label_emb\.weight" has dtype I32; accepted: F32, F16, BF16, F64/);
  });
});
