/**
 * `diffq fid <a> <b>`: the Fréchet distance between any two of a run, an npz of images, a folder of
 * PNGs and a stats npz (docs/statistics.md), and the sFID when both sides carry spatial statistics.
 */
import { preprocessWarning } from '@diffq/codecs';
import { frechetMetricName, UsageError } from '@diffq/contract';
import { frechetDistanceWith } from '@diffq/metrics';
import type { InceptionDims, InceptionPreprocess } from '@diffq/networks';
import { processFrechetKernel } from '@diffq/onnx/frechet-kernel';
import type { Producer } from './producer.ts';
import { type NetworkLoader, type SourceStats, statsOfSource } from './stats-source.ts';

export interface FidSide {
  source: string;
  how: string;
  dim: number;
  samples?: number;
  /** The preprocessing behind the statistics; null when the file does not record it. */
  preprocess: string | null;
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
  /** Why the number may not mean what it seems: statistics of other or unknown preprocessing. */
  warnings: string[];
}

/** How the feature network is opened: `--preprocess` and `--dims` (the Inception network's; model.json's and 2048 by default). */
export interface FeatureNetworkChoice {
  preprocess?: string;
  dims?: number;
}

/** The flags checked against what the Inception network offers (loading the networks package only when a flag is given). */
async function checkChoice(choice: FeatureNetworkChoice): Promise<{ preprocess?: InceptionPreprocess; dims?: InceptionDims }> {
  if (choice.preprocess === undefined && choice.dims === undefined) return {};
  const { INCEPTION_BLOCK_DIMS, INCEPTION_PREPROCESS_MODES } = await import('@diffq/networks');
  const problems: string[] = [];
  if (choice.preprocess !== undefined && !(INCEPTION_PREPROCESS_MODES as readonly string[]).includes(choice.preprocess)) {
    problems.push(`--preprocess is "${choice.preprocess}"; accepted: ${INCEPTION_PREPROCESS_MODES.join(', ')}`);
  }
  if (choice.dims !== undefined && !(INCEPTION_BLOCK_DIMS as readonly number[]).includes(choice.dims)) {
    problems.push(`--dims is ${choice.dims}; accepted: ${INCEPTION_BLOCK_DIMS.join(', ')} (pytorch-fid's Inception blocks)`);
  }
  if (problems.length > 0) throw new UsageError(problems);
  return choice as { preprocess?: InceptionPreprocess; dims?: InceptionDims };
}

/** Opens --features once, on first use: comparing two stats files never loads a network. */
export async function featureNetworkLoader(
  features: string | undefined,
  choice: FeatureNetworkChoice = {},
): Promise<NetworkLoader | undefined> {
  const checked = await checkChoice(choice);
  if (!features) {
    if (choice.preprocess !== undefined || choice.dims !== undefined) {
      throw new UsageError([
        '--preprocess and --dims choose how --features computes features: give --features <feature network directory>',
      ]);
    }
    return undefined;
  }
  let opened: ReturnType<NetworkLoader> | undefined;
  return () => {
    opened ??= (async () => {
      const { fetchModel } = await import('@diffq/storage');
      const { openFeatureNetwork } = await import('@diffq/onnx');
      const local = await fetchModel(features).catch((error: Error) => {
        throw new UsageError([`--features ${features}: ${error.message}`]);
      });
      const network = await openFeatureNetwork(local.dir, checked);
      // Networks other than Inception have one preprocessing and one feature layer: say so rather than ignore the flag.
      const refused = [
        choice.preprocess !== undefined && network.info.preprocess !== choice.preprocess
          ? `--preprocess ${choice.preprocess}: the ${network.info.architecture} feature network has one preprocessing, "${network.info.preprocess}" (--preprocess applies to fid-inception-v3)`
          : undefined,
        choice.dims !== undefined && network.info.featureDim !== choice.dims
          ? `--dims ${choice.dims}: the ${network.info.architecture} feature network gives ${network.info.featureDim}-d features only (--dims applies to fid-inception-v3)`
          : undefined,
      ].filter((p): p is string => p !== undefined);
      if (refused.length > 0) {
        network.dispose();
        throw new UsageError(refused);
      }
      return network;
    })();
    return opened;
  };
}

function side(s: SourceStats): FidSide {
  return {
    source: s.source,
    how: s.how,
    dim: s.stats.mu.length,
    ...(s.samples === undefined ? {} : { samples: s.samples }),
    preprocess: s.preprocess ?? null,
  };
}

/** The warnings due when two sides' statistics may come from different preprocessing: the side without a record (or a) is named. */
export function preprocessWarnings(a: SourceStats, b: SourceStats): string[] {
  if (a.preprocess === undefined && b.preprocess === undefined) {
    return [
      `neither ${a.source} nor ${b.source} records its preprocessing: the FID is meaningful only if both were made the same way (tf1 or pytorch-fid)`,
    ];
  }
  const [described, other] = b.preprocess === undefined ? [b, a] : [a, b];
  const warning = preprocessWarning(described.source, described.preprocess, other.preprocess as string);
  return warning === undefined ? [] : [warning];
}

export async function fidBetween(
  a: string,
  b: string,
  options: { producer: Producer; features?: string } & FeatureNetworkChoice,
): Promise<FidResult> {
  const loader = await featureNetworkLoader(options.features, options);
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
    const result: FidResult = { fid, metric, a: side(first), b: side(second), warnings: preprocessWarnings(first, second) };
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
  const describe = (s: FidSide) =>
    `${s.source} (${s.how}${s.samples === undefined ? '' : `, ${s.samples} samples`}, d = ${s.dim}, preprocess ${s.preprocess ?? 'not recorded'})`;
  const lines = [`${r.metric === 'fd_dinov2' ? 'FD_DINOv2' : 'FID'} ${r.fid.toFixed(4)}`, `  a: ${describe(r.a)}`, `  b: ${describe(r.b)}`];
  if (r.sfid !== undefined) lines.splice(1, 0, `sFID ${r.sfid.toFixed(4)}`);
  for (const warning of r.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}
