import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { axisTaps, checkPreprocess, preprocessInception } from '../src/inception/inception-preprocess.ts';

/** A one-row, two-pixel image [0, 255] resized to 4×4 (of every output row, channel 0). */
function resizedRow(mode: 'pytorch-fid' | 'tf1'): number[] {
  const image = Uint8Array.from([0, 0, 0, 255, 255, 255]);
  const out = preprocessInception(image, [1, 1, 2, 3], mode, 4);
  return Array.from(out.subarray(0, 4));
}

describe('Inception preprocessing', () => {
  it('resizes with half-pixel centres clamped at 0 in pytorch-fid mode, then maps 0..255 to −1..1', () => {
    // src = (dst + ½)·2/4 − ½ = −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel).
    const expected = [0, 63.75, 191.25, 255].map((v) => (2 * v) / 255 - 1);
    for (const [i, v] of resizedRow('pytorch-fid').entries())
      assert.ok(Math.abs(v - expected[i]) < 1e-6, `dst ${i}: ${v} vs ${expected[i]}`);
  });

  it('anchors the grid at the top-left pixel in tf1 mode, then maps x to (x − 128)/128', () => {
    // src = dst·2/4 = 0, 0.5, 1, 1.5: the last output never reaches between the last pixels.
    const expected = [0, 127.5, 255, 255].map((v) => (v - 128) / 128);
    for (const [i, v] of resizedRow('tf1').entries()) assert.ok(Math.abs(v - expected[i]) < 1e-6, `dst ${i}: ${v} vs ${expected[i]}`);
  });

  it('leaves a 299×299 image unresized in both modes, only scaled', () => {
    const image = Uint8Array.from({ length: 299 * 299 * 3 }, (_, i) => (i * 7919) % 256);
    for (const [mode, scale] of [
      ['pytorch-fid', (v: number) => (2 * v) / 255 - 1],
      ['tf1', (v: number) => (v - 128) / 128],
    ] as const) {
      const out = preprocessInception(image, [1, 299, 299, 3], mode);
      for (const [y, x, c] of [
        [0, 0, 0],
        [17, 123, 1],
        [298, 298, 2],
      ]) {
        const v = out[(c * 299 + y) * 299 + x];
        assert.ok(Math.abs(v - scale(image[(y * 299 + x) * 3 + c])) < 1e-6, `${mode} (${y}, ${x}, ${c})`);
      }
    }
  });

  it('gives a grey image the three channels of the same image stored as RGB with R = G = B', () => {
    const grey = Uint8Array.from({ length: 2 * 5 * 7 }, (_, i) => (i * 37) % 256);
    const rgb = Uint8Array.from({ length: grey.length * 3 }, (_, i) => grey[Math.floor(i / 3)]);
    for (const mode of ['pytorch-fid', 'tf1'] as const) {
      const a = preprocessInception(grey, [2, 5, 7, 1], mode);
      assert.deepEqual(a, preprocessInception(rgb, [2, 5, 7, 3], mode));
      const plane = 299 * 299;
      assert.deepEqual(a.subarray(0, plane), a.subarray(2 * plane, 3 * plane));
    }
  });

  it('reads every output pixel from inside the image for any input size', () => {
    for (const size of [1, 2, 28, 32, 64, 256, 512]) {
      for (const mode of ['pytorch-fid', 'tf1'] as const) {
        const { i0, i1, lambda } = axisTaps(size, 299, mode);
        for (let d = 0; d < 299; d++) {
          assert.ok(i0[d] >= 0 && i1[d] < size && i0[d] <= i1[d] && lambda[d] >= 0 && lambda[d] < 1, `${mode} in ${size}, dst ${d}`);
        }
      }
    }
  });

  it('refuses what it cannot read, naming the value', () => {
    assert.throws(() => preprocessInception(new Uint8Array(16), [1, 2, 2, 4], 'tf1'), /4 channels.*accepted: 1 \(grey\) or 3 \(RGB\)/);
    assert.throws(() => preprocessInception(new Uint8Array(10), [1, 2, 2, 3], 'tf1'), /10 values; shape \[1,2,2,3\] needs 12/);
    assert.throws(() => checkPreprocess('tf2'), /preprocess is "tf2"; accepted: "pytorch-fid", "tf1"/);
  });
});
