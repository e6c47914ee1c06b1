/**
 * dinov2's `interpolate_pos_encoding` for a 224×224 input, in float64: the checkpoints' pos_embed is
 * for 518×518 (a 37×37 grid behind the class row); a 224×224 input has a 16×16 patch grid, so the grid
 * is resampled as a [D, 37, 37] image with the same matrix along both axes. The class row is kept.
 *
 * The hub variants differ (DINOV2_HUB_MODELS): `dinov2_vitl14` passes scale_factor (16 + 0.1)/37 with
 * antialias off, so torch samples with step 37/16.1 (not 37/16) and the plain a = −0.75 cubic;
 * `dinov2_vitl14_reg` passes size 16 with antialias on, the preprocessing's own filter.
 */
import { antialiasedBicubicMatrix, bicubicMatrix } from './bicubic-resize.ts';
import { DINOV2_PATCH_GRID, DINOV2_POS_GRID, type Dinov2Config } from './dinov2-config.ts';

/** The [G, M] matrix (G = 16, M = 37) that resamples one axis of the position-embedding grid. */
export function positionEmbeddingResize(c: Pick<Dinov2Config, 'interpolateAntialias' | 'interpolateOffset'>): Float64Array {
  const [m, g] = [DINOV2_POS_GRID, DINOV2_PATCH_GRID];
  // dinov2 asks for the scale factor only when the offset is non-zero; torch then samples with it.
  const step = c.interpolateOffset ? m / (g + c.interpolateOffset) : m / g;
  return c.interpolateAntialias ? antialiasedBicubicMatrix(m, g, step) : bicubicMatrix(m, g, step);
}

/**
 * pos_embed [1, 1 + M², D] (row 1 + M·y + x = grid point (y, x)) → [1, 1 + G², D] for a 224×224
 * input, rows in the patch tokens' row-major order (1 + G·gy + gx): R·grid·Rᵀ per channel.
 */
export function interpolatePositionEmbedding(
  posEmbed: Float32Array | Float64Array,
  embedDim: number,
  c: Pick<Dinov2Config, 'interpolateAntialias' | 'interpolateOffset'>,
): Float64Array {
  const [m, g, d] = [DINOV2_POS_GRID, DINOV2_PATCH_GRID, embedDim];
  if (posEmbed.length !== (1 + m * m) * d) {
    throw new RangeError(`pos_embed holds ${posEmbed.length} values; [1, ${1 + m * m}, ${d}] needs ${(1 + m * m) * d}`);
  }
  const r = positionEmbeddingResize(c);
  const out = new Float64Array((1 + g * g) * d);
  for (let k = 0; k < d; k++) out[k] = posEmbed[k];
  // Rows first: rowsDone[gy, x, :] = Σ_y R[gy, y]·grid[y, x, :].
  const rowsDone = new Float64Array(g * m * d);
  for (let gy = 0; gy < g; gy++) {
    for (let y = 0; y < m; y++) {
      const w = r[gy * m + y];
      if (w === 0) continue;
      for (let x = 0; x < m; x++) {
        const src = (1 + y * m + x) * d;
        const dst = (gy * m + x) * d;
        for (let k = 0; k < d; k++) rowsDone[dst + k] += w * posEmbed[src + k];
      }
    }
  }
  for (let gy = 0; gy < g; gy++) {
    for (let gx = 0; gx < g; gx++) {
      const dst = (1 + gy * g + gx) * d;
      for (let x = 0; x < m; x++) {
        const w = r[gx * m + x];
        if (w === 0) continue;
        const src = (gy * m + x) * d;
        for (let k = 0; k < d; k++) out[dst + k] += w * rowsDone[src + k];
      }
    }
  }
  return out;
}
