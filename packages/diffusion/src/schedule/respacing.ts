/**
 * Timestep respacing: which of the base process's T steps a shorter sampling process keeps, written as
 * guided-diffusion's `timestep_respacing` string (respace.py space_timesteps).
 */

const ACCEPTED =
  'accepted: "" (all steps), "N" (N evenly spaced steps), "a,b,c" (the steps cut into equal sections taking a, b, c steps each) ' +
  'or "ddimN" (N steps at an integer stride: 0, k, 2k, …)';

/** Python's round(): to the nearest integer, ties to the even one (round(832.5) = 832). */
export function roundHalfToEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The kept base timesteps, sorted ascending (the spaced process's timestep_map).
 *
 * - `""`: all of 0 … T−1.
 * - `"a,b,c"`: T is cut into len sections (the first T mod len one step longer); a section of `size`
 *   steps taking `count` keeps positions round(k·stride), k = 0 … count−1, stride = (size−1)/(count−1)
 *   (1 when count = 1), the position accumulated by float64 addition and rounded half-to-even.
 *   `"N"` is a single section.
 * - `"ddimN"`: the smallest integer stride k ≥ 1 with |range(0, T, k)| = N, keeping 0, k, 2k, …
 *   (so the last base step is usually not kept).
 */
export function spaceTimesteps(numTimesteps: number, respacing: string): number[] {
  const spec = respacing.trim();
  if (spec === '') return Array.from({ length: numTimesteps }, (_, i) => i);
  const ddim = /^ddim(\d+)$/.exec(spec);
  if (ddim) return ddimTimesteps(numTimesteps, Number(ddim[1]), respacing);
  if (!/^\d+(\s*,\s*\d+)*$/.test(spec)) throw new Error(`timestep_respacing is "${respacing}"; ${ACCEPTED}`);
  const counts = spec.split(',').map((s) => Number(s.trim()));
  return sectionTimesteps(numTimesteps, counts, respacing);
}

function ddimTimesteps(numTimesteps: number, count: number, respacing: string): number[] {
  // Python's range(1, T): the reference never tries stride T itself.
  for (let stride = 1; stride < numTimesteps; stride++) {
    if (Math.ceil(numTimesteps / stride) === count) return Array.from({ length: count }, (_, k) => k * stride);
  }
  throw new Error(
    `timestep_respacing "${respacing}": no integer stride k ≥ 1 keeps exactly ${count} of ${numTimesteps} steps as 0, k, 2k, …; ` +
      `choose N among the values ⌈${numTimesteps}/k⌉, or use "${count}" for evenly spaced steps`,
  );
}

function sectionTimesteps(numTimesteps: number, counts: number[], respacing: string): number[] {
  const sizePer = Math.floor(numTimesteps / counts.length);
  const extra = numTimesteps % counts.length;
  const kept = new Set<number>();
  let startIdx = 0;
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (count < 1 || count > size) {
      throw new Error(
        `timestep_respacing "${respacing}": section ${i + 1} of ${counts.length} has ${size} of the ${numTimesteps} steps ` +
          `and cannot take ${count}; each count must be between 1 and its section's size`,
      );
    }
    const stride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let position = 0;
    for (let k = 0; k < count; k++) {
      kept.add(startIdx + roundHalfToEven(position));
      position += stride;
    }
    startIdx += size;
  });
  return [...kept].sort((a, b) => a - b);
}
