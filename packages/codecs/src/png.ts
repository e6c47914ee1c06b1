/**
 * PNG files of uint8 HWC images: one per seed (`png/<seed:06d>.png`, EDM's naming) and the contact
 * sheet. Grayscale for 1 channel, RGB for 3, RGBA for 4, as PIL's fromarray would save them.
 */
import { type ColorType, PNG } from 'pngjs';

export interface RasterImage {
  height: number;
  width: number;
  channels: 1 | 3 | 4;
  /** [height, width, channels] uint8, C order. */
  pixels: Uint8Array;
}

const COLOR_TYPE: Record<RasterImage['channels'], ColorType> = { 1: 0, 3: 2, 4: 6 };

export function encodePng(image: RasterImage): Buffer {
  const { height, width, channels, pixels } = image;
  if (!(channels in COLOR_TYPE)) throw new Error(`png: ${channels} channels; accepted 1, 3 or 4`);
  if (pixels.length !== height * width * channels) {
    throw new Error(`png: ${pixels.length} bytes for a ${height}x${width}x${channels} image (expected ${height * width * channels})`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, {
    colorType: COLOR_TYPE[channels],
    inputColorType: COLOR_TYPE[channels],
    inputHasAlpha: channels === 4,
    bitDepth: 8,
  });
}

/**
 * Decodes a PNG back to HWC with the requested channel count (pngjs always decodes to RGBA), or with
 * `source` the file's own: 1 for a greyscale PNG (its alpha, if any, dropped), else 3.
 */
export function decodePng(bytes: Uint8Array, requested: 1 | 3 | 4 | 'source' = 3): RasterImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height } = png;
  // pngjs expands grey to R = G = B, so channel 0 is the grey value.
  const channels = requested === 'source' ? (png.color ? 3 : 1) : requested;
  const pixels = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < channels; c++) pixels[i * channels + c] = png.data[i * 4 + c];
  }
  return { height, width, channels, pixels };
}

/** Image `n` of an NHWC batch as a raster (a view, no copy). */
export function imageOf(batch: Uint8Array, n: number, height: number, width: number, channels: 1 | 3 | 4): RasterImage {
  const size = height * width * channels;
  return { height, width, channels, pixels: batch.subarray(n * size, (n + 1) * size) };
}
