/** `diffq report <run>`: report.json as the finalizer wrote it, or a readable summary of it. */
import { keys, type RunReport } from '@diffq/contract';
import { getJson } from '@diffq/storage';
import { formatDuration, type LocatedRun } from './run-state.ts';

export async function readReport(run: LocatedRun): Promise<RunReport | undefined> {
  return (await getJson(run.store, keys.report(run.spec.runId))) as RunReport | undefined;
}

export function formatReport(r: RunReport, storeUrl: string): string {
  const t = r.timings;
  const lines = [
    `run ${r.runId}: ${r.counts.samples} samples in ${r.counts.shards} shards (${r.seeds})`,
    `  model     ${r.model.id} (${r.model.uri})`,
    `  sampler   ${r.sampler.kind}${r.sampler.respacing ? `, respacing "${r.sampler.respacing}"` : ', all steps'}${r.sampler.kind === 'ddim' ? `, eta ${r.sampler.eta}` : ''}; guidance ${r.guidance.kind}${'scale' in r.guidance ? ` ${r.guidance.scale}` : ''}`,
    `  wall      ${formatDuration(t.wallSeconds)} (${t.firstShardStartedAt} → ${t.lastShardFinishedAt}), ${t.samplesPerSecond.toFixed(2)} samples/s`,
    `  phases    ${Object.entries(t.phaseSeconds)
      .map(([phase, s]) => `${phase} ${s.toFixed(1)} s`)
      .join(', ')} (summed over shards)`,
    `  engines   ${r.engines.join(', ')}`,
    `  workers   ${Object.entries(r.workers)
      .map(([id, w]) => `${id}: ${w.shards} shards, ${w.samples} samples`)
      .join('; ')}`,
    `  files     ${storeUrl.replace(/\/$/, '')}/${r.runId}/ (shards/*.npz, report.json, grid.png${r.output === 'npz' ? '' : ', png/'})`,
  ];
  if (r.labelCounts) lines.push(`  labels    ${Object.keys(r.labelCounts).length} classes used`);
  return lines.join('\n');
}
