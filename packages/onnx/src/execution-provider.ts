/**
 * Which onnxruntime execution provider runs a graph: the one place every network's session asks
 * (openOrtSession in onnx-engine.ts calls chooseProvider), so a denoiser, a decoder and a feature
 * network on the same worker follow the same `--provider` / DIFFQ_ONNX_PROVIDER and the same
 * fallback rule. A provider that cannot load falls back, in `auto`'s order, and the reason is kept
 * for the engine's description; nothing falls back silently.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';
/** What a user may ask for: a provider, or `auto` (the first of AUTO_ORDER that loads). */
export type ProviderChoice = ExecutionProvider | 'auto';
export const PROVIDER_CHOICES: readonly ProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu'];
/** `auto` tries the fastest first: CUDA's kernels, then WebGPU (Dawn over Vulkan, Metal or D3D12), then the CPU. */
export const AUTO_ORDER: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];
/** Providers with half-precision kernels; on the CPU a float16 graph would be cast back to float32 node by node. */
export const FLOAT16_PROVIDERS: readonly ExecutionProvider[] = ['cuda', 'webgpu'];

/** The environment variable that picks the provider when no flag does. */
export const PROVIDER_ENV = 'DIFFQ_ONNX_PROVIDER';

/** `value` checked against PROVIDER_CHOICES; `field` names it in the error. */
export function parseProviderChoice(value: string, field: string): ProviderChoice {
  if (!PROVIDER_CHOICES.includes(value as ProviderChoice)) {
    throw new Error(`${field} is "${value}"; accepted: ${PROVIDER_CHOICES.join(', ')}`);
  }
  return value as ProviderChoice;
}

/** DIFFQ_ONNX_PROVIDER, or cpu when unset: a GPU is used only when someone asked for one. */
export function providerFromEnv(): ProviderChoice {
  const value = process.env[PROVIDER_ENV];
  return value === undefined || value === '' ? 'cpu' : parseProviderChoice(value, PROVIDER_ENV);
}

/** The library onnxruntime-node needs for its CUDA provider, installed only on request (docs/deployment.md, "GPU nodes"). */
const CUDA_PROVIDER_LIBRARY = 'libonnxruntime_providers_cuda.so';

/** Why the CUDA provider cannot load here, or undefined when its library is installed. */
function cudaUnavailableReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `onnxruntime-node ships no CUDA provider for ${process.platform}/${process.arch}`;
  const binDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', 'linux', 'x64');
  if (existsSync(join(binDir, CUDA_PROVIDER_LIBRARY))) return undefined;
  return `${CUDA_PROVIDER_LIBRARY} is not installed (npm ci never runs onnxruntime-node's download; a GPU node installs it with ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install, see docs/deployment.md)`;
}

/**
 * onnxruntime's load errors start with its source position and the failed check
 * ("…/webgpu_context.cc:136 …::<lambda()> adapter_result.status == … was false. Failed to get a
 * WebGPU adapter: No supported adapters"); the sentence after the check is the reason.
 */
export function loadFailureReason(error: unknown): string {
  const first = (error instanceof Error ? error.message : String(error)).trim().split('\n')[0];
  const afterCheck = first.match(/ was false\. (.+)$/);
  return (afterCheck ? afterCheck[1] : first).trim();
}

/**
 * A provider whose device cannot be found stays unavailable for the life of the process: asking
 * Dawn again costs a second and the same warnings on stderr for every session.
 */
const unavailable = new Map<ExecutionProvider, string>();

/** The providers list onnxruntime is given: the device first, the CPU for nodes it has no kernel for. */
function providerConfig(provider: ExecutionProvider): Ort.InferenceSession.ExecutionProviderConfig[] {
  switch (provider) {
    case 'cpu':
      return ['cpu'];
    // One GPU per worker: the first one it sees (CUDA_VISIBLE_DEVICES picks which, as on Kubernetes).
    case 'cuda':
      return [{ name: 'cuda', deviceId: 0 }, 'cpu'];
    case 'webgpu':
      return [{ name: 'webgpu' }, 'cpu'];
  }
}

export interface ChosenProvider<S> {
  session: S;
  /** The provider that runs the graph. */
  provider: ExecutionProvider;
  /** What was asked for. */
  requested: ProviderChoice;
  /** For each provider tried before `provider`, why it did not load; empty when the first one did. */
  skipped: { provider: ExecutionProvider; reason: string }[];
}

/**
 * Opens a session with the first provider that loads: just `requested`, or AUTO_ORDER for `auto`,
 * then the CPU. `open` creates the session for a providers list; a failure of the CPU itself is
 * thrown, since then the graph is at fault and no provider will run it.
 */
export async function chooseProvider<S>(
  requested: ProviderChoice,
  open: (providers: Ort.InferenceSession.ExecutionProviderConfig[]) => Promise<S>,
): Promise<ChosenProvider<S>> {
  const candidates = requested === 'auto' ? AUTO_ORDER.filter((p) => p !== 'cpu') : requested === 'cpu' ? [] : [requested];
  const skipped: ChosenProvider<S>['skipped'] = [];
  for (const provider of candidates) {
    const known = provider === 'cuda' ? cudaUnavailableReason() : unavailable.get(provider);
    if (known) {
      skipped.push({ provider, reason: known });
      continue;
    }
    try {
      return { session: await open(providerConfig(provider)), provider, requested, skipped };
    } catch (e) {
      const reason = `the ${provider} provider did not load: ${loadFailureReason(e)}`;
      if (/adapter/i.test(reason)) unavailable.set(provider, reason);
      skipped.push({ provider, reason });
    }
  }
  return { session: await open(providerConfig('cpu')), provider: 'cpu', requested, skipped };
}

/**
 * The short, per-process constant naming the provider, with the fallback's reason in parentheses
 * ("onnxruntime-node 1.30.0 cpu (webgpu fallback: the webgpu provider did not load: Failed to get a
 * WebGPU adapter: No supported adapters)"). It ends with the provider before the parentheses, as
 * the finalizer's providerOf reads it in shards written before they recorded their providers, and a
 * run's report.json keeps it (`engines`).
 */
export function describeProvider(version: string, chosen: Pick<ChosenProvider<unknown>, 'provider' | 'requested' | 'skipped'>): string {
  const base = `onnxruntime-node ${version} ${chosen.provider}`;
  if (chosen.skipped.length === 0) return base;
  return `${base} (${chosen.requested} fallback: ${shortFallbackReasons(chosen.skipped)})`;
}

/** The skipped providers' reasons without their parenthesised details (the cuda reason's install instructions). */
export function shortFallbackReasons(skipped: readonly { reason: string }[]): string {
  return skipped.map((s) => s.reason.replace(/ \(.*$/, '')).join('; ');
}
