/**
 * A contact sheet of a trained model's samples: DDIM over a respaced process, classifier-free
 * guidance towards the given digits, per-seed Philox noise, through the production generate().
 */
import { writeFile } from 'node:fs/promises';
import type { RasterImage } from '@diffq/codecs';
import { createProcess, type Guidance, generate, parseDiffusionConfig, SeedNoiseSource } from '@diffq/diffusion';
import { loadUNet, readModelDirectory, TfjsEngine } from '@diffq/networks';

export interface SheetOptions {
  model: string;
  out: string;
  /** The digit of each tile; tile i uses seed i. */
  labels: number[];
  ddimSteps: number;
  /** Classifier-free guidance weight w (0: the conditional model alone). */
  guidance: number;
  columns?: number;
  /** Enlarge the sheet k× (nearest neighbour), for looking at 28-pixel digits. */
  scale?: number;
}

/** Nearest-neighbour k× enlargement of a raster. */
function enlarge(image: RasterImage, k: number): RasterImage {
  if (k === 1) return image;
  const { height, width, channels, pixels } = image;
  const out = new Uint8Array(height * k * width * k * channels);
  for (let y = 0; y < height * k; y++) {
    for (let x = 0; x < width * k; x++) {
      const from = (Math.floor(y / k) * width + Math.floor(x / k)) * channels;
      out.set(pixels.subarray(from, from + channels), (y * width * k + x) * channels);
    }
  }
  return { height: height * k, width: width * k, channels, pixels: out };
}

export async function sampleSheet(o: SheetOptions): Promise<{ seconds: number }> {
  const started = Date.now();
  const dir = await readModelDirectory(o.model);
  if (dir.architecture !== 'adm-unet') throw new Error(`${o.model} is an ${dir.architecture}; a sample sheet needs a denoiser`);
  const process = createProcess(parseDiffusionConfig({ ...dir.diffusion, timestep_respacing: `ddim${o.ddimSteps}` }));
  const engine = new TfjsEngine(loadUNet(dir));
  const guidance: Guidance =
    o.guidance > 0 && dir.nullLabel !== null ? { type: 'classifier_free', w: o.guidance, nullLabel: dir.nullLabel } : { type: 'none' };
  const n = o.labels.length;
  const { inChannels: c, imageSize: size } = dir.unet;
  try {
    const { images } = await generate({
      engine,
      process,
      noise: new SeedNoiseSource(Array.from({ length: n }, (_, i) => i)),
      shape: [n, c, size, size],
      labels: Int32Array.from(o.labels),
      guidance,
      sampler: { kind: 'ddim', eta: 0, clipDenoised: true },
    });
    // The worker's PNG and grid code writes run contact sheets; imported here only when used.
    const { contactSheet, encodePng, imageOf } = await import('@diffq/codecs');
    const tiles = Array.from({ length: n }, (_, i) => imageOf(images, i, size, size, c as 1 | 3 | 4));
    await writeFile(o.out, encodePng(enlarge(contactSheet(tiles, { columns: o.columns, pad: 2, background: 128 }), o.scale ?? 1)));
  } finally {
    engine.dispose();
  }
  return { seconds: (Date.now() - started) / 1000 };
}
