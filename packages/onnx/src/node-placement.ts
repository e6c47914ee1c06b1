/**
 * Where onnxruntime placed a graph's nodes: a graph asked to run on a GPU provider whose kernels
 * lack an op runs that op on the CPU, with a copy each way, and nothing says so but a warning on
 * stderr. onnxruntime-node 1.30 exposes no per-node assignment in its API; its profiler does: each
 * kernel's event in the profile (enableProfiling, written by endProfiling) carries the node's
 * `provider` and `op_name`. So a session opened for a GPU runs one probe forward at batch 1 with
 * profiling on, and the profile is read back, counted and removed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';

/** onnxruntime's name for its CPU provider in profiles. */
const CPU_PROVIDER_NAME = 'CPUExecutionProvider';

export interface NodePlacement {
  /** Kernels run per provider, by onnxruntime's names (CPUExecutionProvider, WebGpuExecutionProvider, …). */
  nodesByProvider: Record<string, number>;
  /** The nodes that ran on the CPU provider, as `OpType name`; empty when every node ran on the device. */
  cpuNodes: string[];
}

/** A profile directory to pass as profileFilePrefix's home; removed by readPlacement. */
export function profileDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'diffq-ort-profile-'));
}

/** Counts the kernel events of onnxruntime's profile (a JSON array of Chrome trace events). */
export function placementFromProfile(events: readonly { cat?: string; name?: string; args?: Record<string, unknown> }[]): NodePlacement {
  const nodesByProvider: Record<string, number> = {};
  const cpuNodes: string[] = [];
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const provider = String(e.args?.provider ?? 'unknown');
    nodesByProvider[provider] = (nodesByProvider[provider] ?? 0) + 1;
    if (provider === CPU_PROVIDER_NAME) cpuNodes.push(`${e.args?.op_name ?? '?'} ${e.name.slice(0, -'_kernel_time'.length)}`);
  }
  return { nodesByProvider, cpuNodes };
}

/** Zeros for every input, symbolic dimensions (the batch) set to 1: valid timesteps, labels and images alike. */
function probeFeeds(ort: typeof Ort, session: Ort.InferenceSession): Record<string, Ort.Tensor> {
  const feeds: Record<string, Ort.Tensor> = {};
  for (const m of session.inputMetadata) {
    if (!m.isTensor) throw new Error(`input ${m.name} is not a tensor`);
    const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const size = dims.reduce((a, b) => a * b, 1);
    switch (m.type) {
      case 'float32':
        feeds[m.name] = new ort.Tensor('float32', new Float32Array(size), dims);
        break;
      case 'int32':
        feeds[m.name] = new ort.Tensor('int32', new Int32Array(size), dims);
        break;
      case 'int64':
        feeds[m.name] = new ort.Tensor('int64', new BigInt64Array(size), dims);
        break;
      case 'float16':
        feeds[m.name] = new ort.Tensor('float16', new Uint16Array(size), dims);
        break;
      default:
        throw new Error(`input ${m.name} is ${m.type}, which the probe does not make`);
    }
  }
  return feeds;
}

/**
 * Runs the probe forward on a session opened with enableProfiling and profileFilePrefix inside
 * `directory`, ends profiling and reads the placement; the directory is removed either way.
 */
export async function probePlacement(ort: typeof Ort, session: Ort.InferenceSession, directory: string): Promise<NodePlacement> {
  try {
    try {
      const result = await session.run(probeFeeds(ort, session));
      for (const t of Object.values(result)) t.dispose();
    } finally {
      // Profiling stops here either way, so the session's real runs are not traced.
      session.endProfiling();
    }
    const file = readdirSync(directory).find((name) => name.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    return placementFromProfile(JSON.parse(readFileSync(join(directory, file), 'utf8')));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** One line for a log: "412 nodes on WebGpuExecutionProvider, 3 on CPUExecutionProvider (Range /t/Range, …)". */
export function describePlacement(p: NodePlacement): string {
  const counts = Object.entries(p.nodesByProvider)
    .sort((a, b) => b[1] - a[1])
    .map(([provider, n]) => `${n} nodes on ${provider}`)
    .join(', ');
  if (p.cpuNodes.length === 0 || Object.keys(p.nodesByProvider).length === 1) return counts || 'no nodes ran';
  const shown = p.cpuNodes.slice(0, 8).join(', ');
  return `${counts}; on the CPU: ${shown}${p.cpuNodes.length > 8 ? `, and ${p.cpuNodes.length - 8} more` : ''}`;
}
