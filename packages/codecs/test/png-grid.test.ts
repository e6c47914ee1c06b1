import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classRows, contactSheet, tileScale } from '../src/grid.ts';
import { decodePng, encodePng, imageOf, type RasterImage } from '../src/png.ts';

function tile(value: number, channels: 1 | 3 = 3): RasterImage {
  return { height: 2, width: 3, channels, pixels: new Uint8Array(2 * 3 * channels).fill(value) };
}

describe('png', () => {
  it('round-trips an RGB image byte for byte', () => {
    const pixels = Uint8Array.from({ length: 4 * 5 * 3 }, (_, i) => (i * 53) % 256);
    const back = decodePng(encodePng({ height: 4, width: 5, channels: 3, pixels }), 3);
    assert.deepEqual([back.height, back.width], [4, 5]);
    assert.deepEqual(back.pixels, pixels);
  });

  it('writes one channel as grayscale', () => {
    const png = encodePng(tile(77, 1));
    assert.equal(png[25], 0, 'IHDR colour type 0 (grayscale)');
    assert.deepEqual(decodePng(png, 1).pixels, tile(77, 1).pixels);
  });

  it('names the mismatch when the bytes do not fit the shape', () => {
    assert.throws(
      () => encodePng({ height: 2, width: 2, channels: 3, pixels: new Uint8Array(5) }),
      /5 bytes for a 2x2x3 image \(expected 12\)/,
    );
  });

  it('views image n of an NHWC batch', () => {
    const batch = Uint8Array.from({ length: 2 * 6 * 3 }, (_, i) => i);
    assert.equal(imageOf(batch, 1, 2, 3, 3).pixels[0], 18);
  });
});

describe('contact sheet', () => {
  it('tiles row by row with a border, about as wide as tall', () => {
    const sheet = contactSheet([tile(10), tile(20), tile(30), tile(40), tile(50)], { pad: 1 });
    // 5 tiles → 3 columns, 2 rows: width 3·(3+1)+1, height 2·(2+1)+1.
    assert.deepEqual([sheet.width, sheet.height], [13, 7]);
    const at = (y: number, x: number) => sheet.pixels[(y * sheet.width + x) * 3];
    assert.equal(at(0, 0), 0, 'border');
    assert.equal(at(1, 1), 10, 'tile 0 at the top left');
    assert.equal(at(1, 9), 30, 'tile 2 ends the first row');
    assert.equal(at(4, 5), 50, 'tile 4 second in the second row');
    assert.equal(at(4, 9), 0, 'no tile 5');
  });

  it('enlarges every pixel to a scale×scale block, nearest neighbour', () => {
    const pixels = Uint8Array.from([1, 2, 3, 4]);
    const sheet = contactSheet([{ height: 2, width: 2, channels: 1, pixels }], { pad: 0, scale: 3 });
    assert.deepEqual([sheet.height, sheet.width], [6, 6]);
    assert.deepEqual([...sheet.pixels.subarray(0, 6)], [1, 1, 1, 2, 2, 2]);
    assert.deepEqual([...sheet.pixels.subarray(3 * 6, 4 * 6)], [3, 3, 3, 4, 4, 4]);
    assert.throws(() => contactSheet([tile(1)], { scale: 1.5 }), /scale is 1.5; accepted: an integer ≥ 1/);
  });

  it('enlarges small tiles to at least 84 pixels, and leaves large ones alone', () => {
    assert.deepEqual([tileScale(28), tileScale(32), tileScale(64), tileScale(256)], [3, 3, 2, 1]);
  });

  it('puts one class per row, in class order, leaving the rest of a short row empty', () => {
    const layout = classRows(['a1', 'b1', 'a2', 'c1', 'a3', 'b2'], [0, 1, 0, 2, 0, 1], 2);
    assert.deepEqual(layout, ['a1', 'a2', 'b1', 'b2', 'c1', null]);
    const sheet = contactSheet([tile(9), null, null, tile(7)], { pad: 0, columns: 2 });
    assert.equal(sheet.pixels[0], 9);
    assert.equal(sheet.pixels[3 * 3], 0, 'an empty place is background');
  });
});
