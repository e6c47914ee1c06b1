/**
 * A statistics npz read from disk without reading its images: guided-diffusion's reference batches
 * (`VIRTUAL_imagenet256_labeled.npz` and kin) hold `mu`, `sigma`, `mu_s`, `sigma_s` beside `arr_0`,
 * 10,000 uint8 images that make the 256² and 512² files larger than Node reads into one buffer. Only
 * the statistics members are read; `arr_0` is described (dtype, shape) from its first row, and its
 * images are read later, in batches, by whoever needs them (readNpzRows).
 */

import type { NpyArray } from './npz.ts';
import { npzArrayHeader, npzMembers, readNpzArray } from './npz-stream.ts';
import { type DecodeStatsOptions, decodeStatsNpz, isStatsNpz, STATS_MEMBERS, type StatsNpz } from './stats-npz.ts';

export interface StatsFile {
  /** The file's statistics; undefined when it holds no `mu` and `sigma` (an image npz). */
  stats?: StatsNpz;
  /** `arr_0`'s dtype and shape, when the file holds one with rows. */
  images?: Pick<NpyArray, 'dtype' | 'shape'>;
  /** Every member's name. */
  members: string[];
}

export async function readStatsFile(path: string, where = path, options: DecodeStatsOptions = {}): Promise<StatsFile> {
  const members = await npzMembers(path);
  const arrays: Record<string, NpyArray> = {};
  for (const name of STATS_MEMBERS) if (members.has(name)) arrays[name] = await readNpzArray(path, name);
  const stats = isStatsNpz(arrays) ? decodeStatsNpz(arrays, where, options) : undefined;
  const images = members.has('arr_0') ? await npzArrayHeader(path, 'arr_0') : undefined;
  return { stats, ...(images ? { images } : {}), members: [...members.keys()] };
}
