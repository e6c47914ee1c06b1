/**
 * The contact sheet (grid.png): samples of a run tiled row by row, `pad` pixels of background
 * between tiles, about as wide as tall (torchvision's make_grid layout), or one row per class for a
 * class-conditional run. Small images are enlarged by whole pixels (nearest neighbour) so that a
 * 28-pixel digit can be seen without smoothing away what the model drew.
 */
import type { RasterImage } from './png.ts';

export interface GridOptions {
  /** Tiles per row; default ⌈√n⌉. */
  columns?: number;
  /** Border between and around tiles, in pixels. */
  pad?: number;
  /** Background byte value. */
  background?: number;
  /** Each pixel becomes a scale×scale block (nearest neighbour); default 1. */
  scale?: number;
}

/** Tiles are enlarged to at least this many pixels a side, when they are smaller. */
export const MIN_TILE_PIXELS = 84;

/** The whole-number enlargement that brings a tile of `size` pixels to MIN_TILE_PIXELS or more. */
export function tileScale(size: number): number {
  return Math.max(1, Math.ceil(MIN_TILE_PIXELS / size));
}

/**
 * Lays tiles out one row per class: row r holds the first `columns` tiles whose label is the r-th
 * smallest class present, and a row that has fewer leaves the rest of it empty (null).
 */
export function classRows<T>(tiles: readonly T[], labels: ArrayLike<number>, columns: number): (T | null)[] {
  if (labels.length !== tiles.length) throw new Error(`grid: ${labels.length} labels for ${tiles.length} tiles`);
  const rows = new Map<number, T[]>();
  for (let i = 0; i < tiles.length; i++) {
    const row = rows.get(labels[i]) ?? [];
    if (row.length < columns) row.push(tiles[i]);
    rows.set(labels[i], row);
  }
  return [...rows.keys()]
    .sort((a, b) => a - b)
    .flatMap((label) => {
      const row = rows.get(label) ?? [];
      return [...row, ...Array<null>(columns - row.length).fill(null)];
    });
}

/** Tiles the images (a null leaves its place empty); every image must have the same shape. */
export function contactSheet(tiles: readonly (RasterImage | null)[], options: GridOptions = {}): RasterImage {
  const first = tiles.find((t): t is RasterImage => t !== null);
  if (!first) throw new Error('grid: no images to tile');
  const scale = options.scale ?? 1;
  if (!(Number.isInteger(scale) && scale >= 1)) throw new Error(`grid: scale is ${scale}; accepted: an integer ≥ 1`);
  const { channels } = first;
  for (const t of tiles) {
    if (t && (t.height !== first.height || t.width !== first.width || t.channels !== channels)) {
      throw new Error(`grid: tiles differ in shape (${t.height}x${t.width}x${t.channels} vs ${first.height}x${first.width}x${channels})`);
    }
  }
  const height = first.height * scale;
  const width = first.width * scale;
  const columns = options.columns ?? Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / columns);
  const pad = options.pad ?? 2;
  const gridW = columns * (width + pad) + pad;
  const gridH = rows * (height + pad) + pad;
  const pixels = new Uint8Array(gridH * gridW * channels).fill(options.background ?? 0);
  const row = new Uint8Array(width * channels);
  tiles.forEach((tile, i) => {
    if (!tile) return;
    const top = pad + Math.floor(i / columns) * (height + pad);
    const left = pad + (i % columns) * (width + pad);
    for (let y = 0; y < height; y++) {
      const srcRow = Math.floor(y / scale) * tile.width * channels;
      for (let x = 0; x < width; x++) {
        const src = srcRow + Math.floor(x / scale) * channels;
        for (let c = 0; c < channels; c++) row[x * channels + c] = tile.pixels[src + c];
      }
      pixels.set(row, ((top + y) * gridW + left) * channels);
    }
  });
  return { height: gridH, width: gridW, channels, pixels };
}
