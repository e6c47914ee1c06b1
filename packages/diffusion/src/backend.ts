/**
 * Chooses the TensorFlow.js backend at run time. tfjs-node-gpu and tfjs-node cannot be installed
 * everywhere (their install downloads libtensorflow), so they are optional and tried first; wasm is
 * the portable fast path; cpu (pure JS) is the last resort, ~20x slower than wasm.
 */
import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendChoice[] = ['node-gpu', 'node', 'wasm', 'cpu'];

export interface BackendReport {
  /** What was asked for: a forced choice or 'auto'. */
  requested: BackendChoice | 'auto';
  /** The choice that loaded. */
  choice: BackendChoice;
  /** tf.getBackend() after loading: 'tensorflow', 'wasm' or 'cpu'. */
  tfBackend: string;
  /** Why each earlier choice was passed over. */
  skipped: { choice: BackendChoice; reason: string }[];
}

async function load(choice: BackendChoice): Promise<void> {
  switch (choice) {
    case 'node-gpu':
      // A variable module name keeps bundlers and the type checker from requiring the optional package.
      await import(['@tensorflow', 'tfjs-node-gpu'].join('/'));
      break;
    case 'node':
      await import(['@tensorflow', 'tfjs-node'].join('/'));
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      break;
    case 'cpu':
      break;
  }
  const tfName = choice === 'node-gpu' || choice === 'node' ? 'tensorflow' : choice;
  if (!(await tf.setBackend(tfName))) throw new Error(`tf.setBackend('${tfName}') returned false`);
  await tf.ready();
}

let current: BackendReport | undefined;

/**
 * Loads the first backend of node-gpu → node → wasm → cpu that works, or exactly `force`
 * (e.g. from DIFFQ_BACKEND). Idempotent: later calls return the first report.
 */
export async function initBackend(force: string | undefined = process.env.DIFFQ_BACKEND): Promise<BackendReport> {
  if (current) return current;
  const requested = force && force !== 'auto' ? force : 'auto';
  if (requested !== 'auto' && !BACKEND_ORDER.includes(requested as BackendChoice)) {
    throw new Error(`DIFFQ_BACKEND is "${force}"; accepted: auto, ${BACKEND_ORDER.join(', ')}`);
  }
  const candidates = requested === 'auto' ? BACKEND_ORDER : [requested as BackendChoice];
  const skipped: BackendReport['skipped'] = [];
  for (const choice of candidates) {
    try {
      await load(choice);
      current = { requested: requested as BackendReport['requested'], choice, tfBackend: tf.getBackend(), skipped };
      return current;
    } catch (e) {
      skipped.push({ choice, reason: (e as Error).message.split('\n')[0] });
    }
  }
  throw new Error(`no TensorFlow.js backend loaded: ${skipped.map((s) => `${s.choice}: ${s.reason}`).join('; ')}`);
}

export function describeBackend(r: BackendReport): string {
  const passed = r.skipped.map((s) => `${s.choice} (${s.reason})`).join(', ');
  return `tfjs backend ${r.choice}${passed ? `; passed over ${passed}` : ''}`;
}
