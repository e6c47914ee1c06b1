/**
 * The contact sheet (grid.png): the first samples of a run tiled row by row, `pad` pixels of
 * background between tiles, about as wide as tall (torchvision's make_grid layout).
 */
import type { RasterImage } from './png.ts';

export interface GridOptions {
  /** Tiles per row; default ⌈√n⌉. */
  columns?: number;
  /** Border between and around tiles, in pixels. */
  pad?: number;
  /** Background byte value. */
  background?: number;
}

export function contactSheet(tiles: readonly RasterImage[], options: GridOptions = {}): RasterImage {
  if (tiles.length === 0) throw new Error('grid: no images to tile');
  const { height, width, channels } = tiles[0];
  for (const t of tiles) {
    if (t.height !== height || t.width !== width || t.channels !== channels) {
      throw new Error(`grid: tiles differ in shape (${t.height}x${t.width}x${t.channels} vs ${height}x${width}x${channels})`);
    }
  }
  const columns = options.columns ?? Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / columns);
  const pad = options.pad ?? 2;
  const gridW = columns * (width + pad) + pad;
  const gridH = rows * (height + pad) + pad;
  const pixels = new Uint8Array(gridH * gridW * channels).fill(options.background ?? 0);
  tiles.forEach((tile, i) => {
    const top = pad + Math.floor(i / columns) * (height + pad);
    const left = pad + (i % columns) * (width + pad);
    for (let y = 0; y < height; y++) {
      const src = tile.pixels.subarray(y * width * channels, (y + 1) * width * channels);
      pixels.set(src, ((top + y) * gridW + left) * channels);
    }
  });
  return { height: gridH, width: gridW, channels, pixels };
}
