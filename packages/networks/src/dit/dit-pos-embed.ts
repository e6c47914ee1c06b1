/**
 * DiT's fixed position embedding, get_2d_sincos_pos_embed(hidden_size, grid_size) of models.py (from
 * MAE). Checkpoints store it as `pos_embed` and the forward reads the stored table; this computes it
 * for generated weights and to check a stored one.
 */

/**
 * [T·D] float32, T = g² tokens row-major over the grid, D = hidden_size. For token (i, j) (row i,
 * column j), channels 0 … D/2−1 encode the column j and D/2 … D−1 the row i (the reference's meshgrid
 * puts w first); each half is [sin(pos·ω_k) for k < D/4, cos(pos·ω_k) for k < D/4] — sin first —
 * with ω_k = 10000^(−k/(D/4)), in float64, then rounded to float32.
 */
export function ditPosEmbed(hiddenSize: number, gridSize: number): Float32Array {
  if (hiddenSize % 4 !== 0) throw new Error(`pos_embed: hidden_size ${hiddenSize} must be a multiple of 4`);
  const quarter = hiddenSize / 4;
  const omega = Float64Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  const out = new Float32Array(gridSize * gridSize * hiddenSize);
  for (let i = 0; i < gridSize; i++) {
    for (let j = 0; j < gridSize; j++) {
      const row = out.subarray((i * gridSize + j) * hiddenSize, (i * gridSize + j + 1) * hiddenSize);
      for (const [half, pos] of [
        [0, j],
        [1, i],
      ]) {
        for (let k = 0; k < quarter; k++) {
          row[half * 2 * quarter + k] = Math.sin(pos * omega[k]);
          row[half * 2 * quarter + quarter + k] = Math.cos(pos * omega[k]);
        }
      }
    }
  }
  return out;
}
