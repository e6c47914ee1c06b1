/** `diffq report <run>`: report.json as the finalizer wrote it, or a readable summary of it. */
import { describeSampler, keys, type RunReport, type RunStatistics } from '@diffq/contract';
import { getJson } from '@diffq/storage';
import { formatDuration, type LocatedRun } from './run-state.ts';

export async function readReport(run: LocatedRun): Promise<RunReport | undefined> {
  return (await getJson(run.store, keys.report(run.spec.runId))) as RunReport | undefined;
}

/** e.g. `classifier_free 0.5, guided channels 3` (the channels only where guidance combines channels). */
export function describeGuidance(g: RunReport['guidance']): string {
  if (g.kind === 'none') return 'none';
  return `${g.kind} ${g.scale}${g.kind === 'classifier_free' ? `, guided channels ${g.guidedChannels}` : ''}`;
}

/**
 * e.g. `cuda, wasm; decoder on cuda; feature network on cpu`: the denoiser's providers, then the decoder's
 * and the feature network's where the run had them (reports written before diffq recorded them lack the fields).
 */
export function describeProviders(r: Pick<RunReport, 'providers' | 'decoderProviders' | 'featureProviders'>): string {
  const parts = [(r.providers ?? []).join(', ')];
  if (r.decoderProviders?.length) parts.push(`decoder on ${r.decoderProviders.join(', ')}`);
  if (r.featureProviders?.length) parts.push(`feature network on ${r.featureProviders.join(', ')}`);
  return parts.join('; ');
}

export function formatReport(r: RunReport, storeUrl: string): string {
  const t = r.timings;
  const lines = [
    `run ${r.runId}: ${r.counts.samples} samples in ${r.counts.shards} shards (${r.seeds})`,
    `  model     ${r.model.id} (${r.model.uri})`,
    `  sampler   ${describeSampler(r.sampler)}; guidance ${describeGuidance(r.guidance)}`,
    `  wall      ${formatDuration(t.wallSeconds)} (${t.firstShardStartedAt} → ${t.lastShardFinishedAt}), ${t.samplesPerSecond.toFixed(2)} samples/s`,
    `  phases    ${Object.entries(t.phaseSeconds)
      .map(([phase, s]) => `${phase} ${s.toFixed(1)} s`)
      .join(', ')} (summed over shards)`,
    `  engines   ${r.engines.join(', ')} (${r.precisions.join(', ')}; ran on ${describeProviders(r)})`,
    `  workers   ${Object.entries(r.workers)
      .map(([id, w]) => `${id}: ${w.shards} shards, ${w.samples} samples`)
      .join('; ')}`,
    `  files     ${storeUrl.replace(/\/$/, '')}/${r.runId}/ (shards/*.npz, report.json, grid.png${r.output === 'npz' ? '' : ', png/'})`,
  ];
  if (r.labelCounts) lines.push(`  labels    ${Object.keys(r.labelCounts).length} classes used`);
  if (r.statistics) lines.push(...formatStatistics(r.statistics));
  return lines.join('\n');
}

/** The statistics block of `diffq report`: each number with what it was measured against. */
export function formatStatistics(s: RunStatistics): string[] {
  const n = (x: number, digits = 4) => String(Number(x.toPrecision(digits)));
  const lines = [
    `  features  ${s.featureNetwork.architecture} (${s.featureNetwork.featureDim}-d, preprocess ${s.featureNetwork.preprocess}) ${s.featureNetwork.uri}; ${s.samples} samples`,
  ];
  if (s.reference) {
    const mode = s.reference.preprocess;
    lines.push(
      `  reference ${s.reference.uri}${mode === undefined ? '' : mode === null ? ' (preprocessing not recorded)' : ` (preprocess ${mode})`}`,
    );
  }
  if (s.referenceFeatures) {
    const r = s.referenceFeatures;
    lines.push(
      `  ref rows  ${r.rows} features of the reference's images, ${r.from === 'cache' ? 'read from' : 'computed and cached in'} ${r.uri}`,
    );
  }
  const floor = s.floor ? ` (floor ${n(s.floor.fid, 6)}: training data against the reference)` : '';
  if (s.fd_dinov2 !== undefined) lines.push(`  FD_DINOv2 ${n(s.fd_dinov2, 6)}${floor}`);
  if (s.fid !== undefined) lines.push(`  FID       ${n(s.fid, 6)}${floor}`);
  if (s.sfid !== undefined) lines.push(`  sFID      ${n(s.sfid, 6)}`);
  if (s.inceptionScore) {
    const is = s.inceptionScore;
    lines.push(`  IS        ${n(is.mean)} ± ${n(is.std, 2)} (${is.splits} split${is.splits === 1 ? '' : 's'} of up to ${is.splitSize})`);
  }
  if (s.precisionRecall) {
    const pr = s.precisionRecall;
    lines.push(
      `  precision ${n(pr.precision)}, recall ${n(pr.recall)} (k = ${pr.k}; all ${pr.samples} samples against ${pr.referenceSamples} reference rows)`,
    );
  }
  if (s.kid) {
    const kid = s.kid;
    lines.push(`  KID       ${n(kid.mean)} ± ${n(kid.std, 2)} (${kid.subsets} subsets of ${kid.subsetSize})`);
  }
  if (s.accuracy)
    lines.push(`  accuracy  ${(100 * s.accuracy.accuracy).toFixed(2)}% of ${s.accuracy.samples} samples are classified as the class asked`);
  for (const warning of s.warnings ?? []) lines.push(`  warning   ${warning}`);
  return lines;
}
