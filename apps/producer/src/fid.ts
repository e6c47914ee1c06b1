/**
 * `diffq fid <a> <b>`: the Fréchet distance between any two of a run, an npz of images, a folder of
 * PNGs and a stats npz (docs/statistics.md), and the sFID when both sides carry spatial statistics.
 */
import { frechetMetricName, UsageError } from '@diffq/contract';
import { frechetDistanceWith } from '@diffq/metrics';
import { processFrechetKernel } from '@diffq/onnx/frechet-kernel';
import type { Producer } from './producer.ts';
import { type NetworkLoader, type SourceStats, statsOfSource } from './stats-source.ts';

export interface FidSide {
  source: string;
  how: string;
  dim: number;
  samples?: number;
}

export interface FidResult {
  /** The Fréchet distance, whatever the feature network (see metric). */
  fid: number;
  /** What the distance is called: `fd_dinov2` when images went through a DINOv2 network, else `fid`. */
  metric: 'fid' | 'fd_dinov2';
  /** Of the spatial features, when both sides have them. */
  sfid?: number;
  a: FidSide;
  b: FidSide;
}

/** Opens --features once, on first use: comparing two stats files never loads a network. */
export function featureNetworkLoader(features: string | undefined): NetworkLoader | undefined {
  if (!features) return undefined;
  let opened: ReturnType<NetworkLoader> | undefined;
  return () => {
    opened ??= (async () => {
      const { fetchModel } = await import('@diffq/storage');
      const { openFeatureNetwork } = await import('@diffq/onnx');
      const local = await fetchModel(features).catch((error: Error) => {
        throw new UsageError([`--features ${features}: ${error.message}`]);
      });
      return openFeatureNetwork(local.dir);
    })();
    return opened;
  };
}

function side(s: SourceStats): FidSide {
  return { source: s.source, how: s.how, dim: s.stats.mu.length, ...(s.samples === undefined ? {} : { samples: s.samples }) };
}

export async function fidBetween(a: string, b: string, options: { producer: Producer; features?: string }): Promise<FidResult> {
  const loader = featureNetworkLoader(options.features);
  let architecture: string | undefined;
  // Only a network that was opened (images, not stats files, on a side) says which metric this is.
  const network =
    loader &&
    (async () => {
      const opened = await loader();
      architecture = opened.info.architecture;
      return opened;
    });
  try {
    const first = await statsOfSource(a, { producer: options.producer, network, sfid: false });
    const second = await statsOfSource(b, { producer: options.producer, network, sfid: false });
    const [d1, d2] = [first.stats.mu.length, second.stats.mu.length];
    if (d1 !== d2) {
      throw new UsageError([
        `${first.source} has ${d1}-d statistics and ${second.source} ${d2}-d ones: compare statistics of the same feature network`,
      ]);
    }
    const kernel = await processFrechetKernel();
    const fid = await frechetDistanceWith(kernel, { ...first.stats, samples: first.samples }, { ...second.stats, samples: second.samples });
    const metric = architecture === undefined ? 'fid' : frechetMetricName(architecture);
    const result: FidResult = { fid, metric, a: side(first), b: side(second) };
    const [s1, s2] = [first.stats.spatial, second.stats.spatial];
    if (s1 && s2 && s1.mu.length === s2.mu.length) result.sfid = await frechetDistanceWith(kernel, s1, s2);
    return result;
  } finally {
    if (network)
      await network().then(
        (n) => n.dispose(),
        () => undefined,
      );
  }
}

export function formatFid(r: FidResult): string {
  const describe = (s: FidSide) => `${s.source} (${s.how}${s.samples === undefined ? '' : `, ${s.samples} samples`}, d = ${s.dim})`;
  const lines = [`${r.metric === 'fd_dinov2' ? 'FD_DINOv2' : 'FID'} ${r.fid.toFixed(4)}`, `  a: ${describe(r.a)}`, `  b: ${describe(r.b)}`];
  if (r.sfid !== undefined) lines.splice(1, 0, `sFID ${r.sfid.toFixed(4)}`);
  return lines.join('\n');
}
