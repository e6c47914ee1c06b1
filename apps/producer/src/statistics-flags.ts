/**
 * `diffq launch --stats fid,sfid,is,pr,accuracy [--features <dir|s3://…>] [--ref <stats.npz|run id>]`
 * (docs/evaluation-runs.md): the flags, the facts of the feature network and reference statistics
 * they name (or the model's model.json `evaluation` defaults), the checks of one against the other
 * and against the model, and the manifest's `statistics`. Every problem is reported, none is
 * written or enqueued.
 */
import { resolve as resolvePath } from 'node:path';
import { posix } from 'node:path/posix';
import { preprocessWarning } from '@diffq/codecs';
import { ID_PATTERN, keys, REFERENCE_STATISTICS, STATISTIC_KINDS, type StatisticKind, type StatisticsSpec } from '@diffq/contract';
import type { FeatureNetworkInfo } from '@diffq/networks';
import { fetchModel, imageShapeOf, openStore, readManifest, readStatsUri } from '@diffq/storage';

export interface StatisticsFlags {
  stats?: string;
  features?: string;
  ref?: string;
}

/** model.json `evaluation` of the model, each path resolved against the model directory. */
export interface EvaluationDefaults {
  features: string;
  reference?: string;
  floor?: string;
}

export interface FeatureFacts {
  uri: string;
  digest: string;
  info: FeatureNetworkInfo;
}

export interface StatsFacts {
  uri: string;
  digest: string;
  dim: number;
  spatialDim: number | null;
  /** Feature rows for precision/recall (0 when it holds none). */
  featureRows: number;
  /** A reference batch's images (`arr_0`, [N, H, W, C]), whose features the finalizer computes once and caches. */
  images?: [number, number, number, number];
  /** The preprocessing the file records; undefined when it does not say. */
  preprocess?: string;
}

export interface StatisticsFacts {
  kinds: StatisticKind[];
  features: FeatureFacts;
  reference?: StatsFacts;
  floor?: StatsFacts;
  /** What the run's numbers must be read with (e.g. a reference of other preprocessing); said at launch and in report.json. */
  warnings?: string[];
}

/** What the worker and sampler will feed the feature network: the model's images and its classes. */
export interface SampledImages {
  imageSize: number;
  channels: number;
  /** Classes of the labels drawn (the model's, or the guidance classifier's); null for unconditional runs. */
  classes: number | null;
}

/** The requested statistics, or the problems with --stats. */
export function parseStatKinds(stats: string): { kinds: StatisticKind[]; problems: string[] } {
  const names = stats
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !(STATISTIC_KINDS as readonly string[]).includes(n));
  const problems = unknown.map((n) => `--stats "${n}" is not a statistic; accepted: ${STATISTIC_KINDS.join(', ')} (comma-separated)`);
  if (names.length === 0) problems.push(`--stats is empty; accepted: a comma-separated list of ${STATISTIC_KINDS.join(', ')}`);
  const kinds = [...new Set(names.filter((n) => !unknown.includes(n)))] as StatisticKind[];
  return { kinds, problems };
}

/** The syntax checks that need no file: --stats names, and --features / --ref only with --stats. */
export function checkStatisticsFlags(f: StatisticsFlags): string[] {
  if (f.stats === undefined) {
    return [
      ...(f.features !== undefined ? ['--features applies with --stats (the statistics to compute)'] : []),
      ...(f.ref !== undefined ? ['--ref applies with --stats (the statistics to compute)'] : []),
    ];
  }
  return parseStatKinds(f.stats).problems;
}

/** `rel` resolved against a model directory given as a path or an s3:// URI. */
export function resolveBeside(modelUri: string, rel: string): string {
  if (rel.startsWith('s3://') || rel.startsWith('/')) return rel;
  if (modelUri.startsWith('s3://')) {
    const [bucket, ...rest] = modelUri.slice('s3://'.length).split('/');
    return `s3://${bucket}${posix.normalize(posix.join('/', ...rest, rel))}`.replace(/\/$/, '');
  }
  return resolvePath(modelUri, rel);
}

/** A --ref value is a run id unless it looks like a file (a path or URI, or a name ending in .npz). */
function refUri(ref: string, storeUrl: string): { uri: string; runId?: string } {
  if (ID_PATTERN.test(ref) && !ref.endsWith('.npz')) {
    const store = openStore(storeUrl);
    try {
      return { uri: store.urlOf(keys.stats(ref)), runId: ref };
    } finally {
      store.close();
    }
  }
  return { uri: ref.startsWith('s3://') || ref.startsWith('file://') ? ref : resolvePath(ref) };
}

async function statsFacts(uri: string, what: string): Promise<StatsFacts> {
  const read = await readStatsUri(uri)
    .then((r) => ({ ...r, shape: r.images && imageShapeOf(r.images, uri) }))
    .catch((error: Error) => {
      throw new Error(`${what}: ${error.message}`);
    });
  const { stats, digest, shape } = read;
  const dim = stats.mu.length;
  return {
    uri,
    digest,
    dim,
    spatialDim: stats.spatial?.mu.length ?? null,
    featureRows: stats.features ? stats.features.length / dim : 0,
    ...(shape ? { images: shape } : {}),
    ...(stats.preprocess === undefined ? {} : { preprocess: stats.preprocess }),
  };
}

/** Why a run's stats.npz cannot be this run's reference: computed by another feature network or preprocessing. */
async function refRunMismatch(runId: string, storeUrl: string, features: FeatureFacts): Promise<string | undefined> {
  const store = openStore(storeUrl);
  try {
    const other = (await readManifest(store, runId))?.statistics?.features;
    if (!other) return undefined;
    if (other.digest !== features.digest || other.preprocess !== features.info.preprocess) {
      return (
        `--ref ${runId}: that run's statistics come from feature network ${other.uri} (weights sha256 ${other.digest.slice(0, 12)}…, preprocess ${other.preprocess}); ` +
        `this run's is ${features.uri} (${features.digest.slice(0, 12)}…, preprocess ${features.info.preprocess}); FIDs are comparable only with one network`
      );
    }
    return undefined;
  } finally {
    store.close();
  }
}

/** Opens the feature network to read what it gives (and so proves it loads), then closes it. */
export async function featureFacts(uri: string, flag: string): Promise<FeatureFacts> {
  const local = await fetchModel(uri, flag);
  const { openFeatureNetwork } = await import('@diffq/onnx');
  const network = await openFeatureNetwork(local.dir);
  try {
    return { uri: uri.startsWith('s3://') ? uri : local.dir, digest: local.digest, info: network.info };
  } finally {
    network.dispose();
  }
}

/**
 * The facts of every file the statistics name; undefined with problems when one cannot be read.
 * Flags win over the model's `evaluation` defaults. Statistics belong to the network that computed
 * them, so the model's reference is taken only with the model's feature network, and its floor
 * only with the model's reference too.
 */
export async function gatherStatisticsFacts(
  f: StatisticsFlags,
  defaults: EvaluationDefaults | undefined,
  storeUrl: string,
): Promise<{ facts?: StatisticsFacts; problems: string[] }> {
  if (f.stats === undefined) return { problems: [] };
  const { kinds } = parseStatKinds(f.stats);
  const problems: string[] = [];
  const featuresUri = f.features ?? defaults?.features;
  let features: FeatureFacts | undefined;
  if (featuresUri === undefined) {
    problems.push('--stats needs --features <feature network dir> (the model declares no evaluation.features in its model.json)');
  } else {
    features = await featureFacts(featuresUri, f.features ? '--features' : 'model.json evaluation.features').catch((error: Error) => {
      problems.push(error.message);
      return undefined;
    });
  }
  const needsRef = kinds.filter((k) => REFERENCE_STATISTICS.includes(k));
  const modelNetwork = f.features === undefined;
  const refGiven = f.ref ?? (modelNetwork ? defaults?.reference : undefined);
  let reference: StatsFacts | undefined;
  if (refGiven !== undefined) {
    const flag = f.ref !== undefined ? `--ref ${f.ref}` : `model.json evaluation.reference ${refGiven}`;
    const { uri, runId } = f.ref !== undefined ? refUri(f.ref, storeUrl) : { uri: refGiven };
    reference = await statsFacts(uri, runId ? `${flag} (run ${runId}'s stats.npz, written when a run with --stats finishes)` : flag).catch(
      (error: Error) => {
        problems.push(error.message);
        return undefined;
      },
    );
    if (reference && features && runId) {
      const mismatch = await refRunMismatch(runId, storeUrl, features);
      if (mismatch) problems.push(mismatch);
    }
  } else if (needsRef.length > 0) {
    problems.push(`--stats ${needsRef.join(',')} needs --ref <stats.npz | run id> (the reference statistics to compare against)`);
  }
  let floor: StatsFacts | undefined;
  if (modelNetwork && f.ref === undefined && defaults?.floor !== undefined && kinds.includes('fid')) {
    floor = await statsFacts(defaults.floor, `model.json evaluation.floor ${defaults.floor}`).catch((error: Error) => {
      problems.push(error.message);
      return undefined;
    });
  }
  if (problems.length > 0 || !features) return { problems };
  const used = needsRef.length > 0 ? reference : undefined;
  const mode = features.info.preprocess;
  const warnings = [
    used && preprocessWarning(`--ref ${used.uri}`, used.preprocess, mode),
    floor && preprocessWarning(`model.json evaluation.floor ${floor.uri}`, floor.preprocess, mode),
  ].filter((w): w is string => w !== undefined);
  return { facts: { kinds, features, reference: used, floor, warnings }, problems };
}

/** The checks of the statistics against each other and against the images the run will sample. */
export function checkStatistics(facts: StatisticsFacts, images: SampledImages): string[] {
  const problems: string[] = [];
  const { info } = facts.features;
  const net = `--features ${facts.features.uri} (${info.architecture})`;
  if (!info.channels.includes(images.channels)) {
    problems.push(`${net} takes images of ${info.channels.join(' or ')} channels; the model samples ${images.channels}`);
  }
  if (info.imageSize !== null && info.imageSize !== images.imageSize) {
    problems.push(`${net} takes ${info.imageSize}×${info.imageSize} images; the model samples ${images.imageSize}×${images.imageSize}`);
  }
  const ref = facts.reference;
  if (ref && ref.dim !== info.featureDim) {
    problems.push(`--ref ${ref.uri} holds statistics of dimension ${ref.dim}; ${net} gives features of dimension ${info.featureDim}`);
  }
  if (facts.floor && facts.floor.dim !== info.featureDim) {
    problems.push(`model.json evaluation.floor ${facts.floor.uri} has dimension ${facts.floor.dim}; ${net} gives ${info.featureDim}`);
  }
  const kinds = facts.kinds;
  if (kinds.includes('sfid')) {
    if (info.spatialDim === null) problems.push(`--stats sfid needs spatial features; ${net} has none`);
    else if (ref && ref.spatialDim !== info.spatialDim) {
      problems.push(
        `--stats sfid: --ref ${ref.uri} ${ref.spatialDim === null ? 'holds no spatial statistics (mu_s, sigma_s)' : `has spatial dimension ${ref.spatialDim}`}; ${net} gives ${info.spatialDim}`,
      );
    }
  }
  for (const [kind, least] of [
    ['pr', 4],
    ['kid', 2],
  ] as const) {
    if (!kinds.includes(kind) || !ref) continue;
    if (ref.featureRows === 0 && ref.images) {
      const [n, h, w, c] = ref.images;
      if (n < least) problems.push(`--stats ${kind} needs at least ${least} reference images; --ref ${ref.uri} holds ${n} in "arr_0"`);
      if (!info.channels.includes(c))
        problems.push(`--stats ${kind}: --ref ${ref.uri} holds images of ${c} channels; ${net} takes ${info.channels.join(' or ')}`);
      if (info.imageSize !== null && (h !== info.imageSize || w !== info.imageSize)) {
        problems.push(`--stats ${kind}: --ref ${ref.uri} holds ${w}×${h} images; ${net} takes ${info.imageSize}×${info.imageSize}`);
      }
    } else if (ref.featureRows < least) {
      problems.push(
        `--stats ${kind} needs reference feature rows ("features" in the stats npz, at least ${least}) or images ("arr_0", a reference batch); --ref ${ref.uri} holds ${ref.featureRows} and no images`,
      );
    }
  }
  if ((kinds.includes('is') || kinds.includes('accuracy')) && info.logitDim === null) {
    problems.push(`--stats ${kinds.includes('is') ? 'is' : 'accuracy'} needs class logits; ${net} has none`);
  }
  if (kinds.includes('accuracy')) {
    if (images.classes === null) {
      problems.push('--stats accuracy needs a class-conditional model (or --classifier): this run draws no classes to check');
    } else if (info.numClasses === null) {
      problems.push(`--stats accuracy: ${net}'s logits do not stand for the model's classes`);
    } else if (info.numClasses < images.classes) {
      problems.push(`--stats accuracy: the run draws ${images.classes} classes; ${net} tells ${info.numClasses} apart`);
    }
  }
  return problems;
}

/** The manifest's `statistics`. */
export function statisticsSpec(facts: StatisticsFacts): StatisticsSpec {
  const { features } = facts;
  return {
    kinds: facts.kinds,
    features: {
      uri: features.uri,
      digest: features.digest,
      architecture: features.info.architecture,
      preprocess: features.info.preprocess,
      featureDim: features.info.featureDim,
    },
    ...(facts.reference ? { reference: { uri: facts.reference.uri, digest: facts.reference.digest } } : {}),
    ...(facts.floor ? { floor: { uri: facts.floor.uri, digest: facts.floor.digest } } : {}),
  };
}
