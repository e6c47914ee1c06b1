/** An RGB raster to draw the benches' charts on, written out with the codecs' PNG encoder. */
import type { RasterImage } from '@diffq/codecs';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './pixel-font.ts';

export type Rgb = readonly [number, number, number];

export class Canvas {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  set(x: number, y: number, color: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    this.pixels.set(color, (yi * this.width + xi) * 3);
  }

  rect(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let dy = 0; dy < h; dy++) for (let dx = 0; dx < w; dx++) this.set(x + dx, y + dy, color);
  }

  /** A straight line `thickness` pixels wide (a square brush stepped along it). */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    const half = Math.floor(thickness / 2);
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      this.rect(Math.round(x) - half, Math.round(y) - half, thickness, thickness, color);
    }
  }

  /** Text in the 5×7 font at `scale`, its top-left corner at (x, y). */
  text(x: number, y: number, text: string, color: Rgb, scale = 2): void {
    for (const [i, ch] of [...text].entries()) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_HEIGHT; r++)
        for (let c = 0; c < GLYPH_WIDTH; c++)
          if (rows[r] & (1 << (GLYPH_WIDTH - 1 - c)))
            this.rect(x + (i * (GLYPH_WIDTH + 1) + c) * scale, y + r * scale, scale, scale, color);
    }
  }

  /** Text drawn rotated a quarter turn anticlockwise (a y-axis title), reading bottom to top from (x, y). */
  textUp(x: number, y: number, text: string, color: Rgb, scale = 2): void {
    for (const [i, ch] of [...text].entries()) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_HEIGHT; r++)
        for (let c = 0; c < GLYPH_WIDTH; c++)
          if (rows[r] & (1 << (GLYPH_WIDTH - 1 - c)))
            this.rect(x + r * scale, y - (i * (GLYPH_WIDTH + 1) + c) * scale, scale, scale, color);
    }
  }

  static textWidth(text: string, scale = 2): number {
    return text.length * (GLYPH_WIDTH + 1) * scale - scale;
  }

  raster(): RasterImage {
    return { width: this.width, height: this.height, channels: 3, pixels: this.pixels };
  }
}
