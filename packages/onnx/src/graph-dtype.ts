/**
 * Which precision a graph diffq builds runs in: float16 only where the provider that actually loaded
 * has half-precision kernels (FLOAT16_PROVIDERS). On the CPU a float16 graph is cast back to float32
 * node by node, slower and no more useful, so there float32 runs and the note says why. The denoiser
 * (open-engine.ts) and the decoder (open-decoder.ts) both open their graphs through openInDtype, so a
 * worker's networks follow one DIFFQ_ONNX_DTYPE under one rule.
 */
import { type ExecutionProvider, FLOAT16_PROVIDERS, type ProviderChoice } from './execution-provider.ts';

export type GraphDtype = 'float32' | 'float16';
export const GRAPH_DTYPES: readonly GraphDtype[] = ['float32', 'float16'];

/** The environment variable that picks the precision when no option does. */
export const DTYPE_ENV = 'DIFFQ_ONNX_DTYPE';

/** DIFFQ_ONNX_DTYPE, or float32 when unset. */
export function dtypeFromEnv(): GraphDtype {
  const value = process.env[DTYPE_ENV];
  if (value === undefined || value === '') return 'float32';
  if (!GRAPH_DTYPES.includes(value as GraphDtype)) throw new Error(`${DTYPE_ENV} is "${value}"; accepted: ${GRAPH_DTYPES.join(', ')}`);
  return value as GraphDtype;
}

export interface OpenedInDtype<T> {
  opened: T;
  /** The precision of the graph that runs. */
  dtype: GraphDtype;
  /** Why it is not the precision asked for; empty when it is. */
  notes: string[];
}

/**
 * Opens a graph of precision `asked` on `provider` with `open`. float16 asked of the cpu provider
 * opens float32 at once; float16 whose provider fell back to one without half-precision kernels
 * (cuda to cpu) is released and opened again in float32. `providerOf` reads which provider loaded.
 */
export async function openInDtype<T>(
  asked: GraphDtype,
  provider: ProviderChoice,
  open: (dtype: GraphDtype) => Promise<T>,
  providerOf: (opened: T) => ExecutionProvider,
  release: (opened: T) => unknown,
): Promise<OpenedInDtype<T>> {
  if (asked === 'float16' && provider === 'cpu') {
    const note = `float16 is for the ${FLOAT16_PROVIDERS.join(' and ')} providers, so the cpu provider runs float32`;
    return { opened: await open('float32'), dtype: 'float32', notes: [note] };
  }
  const opened = await open(asked);
  const loaded = providerOf(opened);
  if (asked === 'float32' || FLOAT16_PROVIDERS.includes(loaded)) return { opened, dtype: asked, notes: [] };
  await release(opened);
  const note = `float16 needs the ${FLOAT16_PROVIDERS.join(' or ')} provider, so the ${loaded} fallback runs float32`;
  return { opened: await open('float32'), dtype: 'float32', notes: [note] };
}
