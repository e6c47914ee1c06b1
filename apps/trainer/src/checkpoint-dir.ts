/**
 * Checkpoints on disk: the model directory (model.json + weights.safetensors, the EMA weights) with
 * train-state.safetensors beside it. Each file is written to a temporary name and renamed, so a
 * reader never sees half a file; the state goes first and model.json last, and a checkpoint whose
 * files disagree on the step is refused on resume.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON, WEIGHTS_FILE } from '@diffq/contract';
import { type CheckpointFiles, readCheckpoint, type SavedTraining, TRAIN_STATE_FILE } from '@diffq/trainer';

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/**
 * model.json as the trainer writes it, plus the top-level sections of the one already in `dir` that
 * the trainer does not own (e.g. `evaluation`, which names the model's feature network and reference),
 * so that retraining a shipped model keeps what was added to it by hand.
 */
async function mergedModelJson(dir: string, trained: string): Promise<string> {
  const existing = await readIfPresent(join(dir, MODEL_JSON));
  if (!existing) return trained;
  let previous: Record<string, unknown>;
  try {
    previous = JSON.parse(existing.toString('utf8')) as Record<string, unknown>;
  } catch {
    return trained;
  }
  const next = JSON.parse(trained) as Record<string, unknown>;
  const kept = Object.fromEntries(Object.entries(previous).filter(([key]) => !(key in next)));
  if (Object.keys(kept).length === 0) return trained;
  return `${JSON.stringify({ ...next, ...kept }, null, 2)}\n`;
}

export async function saveCheckpoint(dir: string, files: CheckpointFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  const modelJson = await mergedModelJson(dir, files.modelJson);
  await writeAtomic(join(dir, TRAIN_STATE_FILE), files.state);
  await writeAtomic(join(dir, WEIGHTS_FILE), files.weights);
  await writeAtomic(join(dir, MODEL_JSON), modelJson);
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads a checkpoint directory; train-state.safetensors is optional (then AdamW restarts). */
export async function loadCheckpoint(dir: string): Promise<SavedTraining> {
  const [modelJson, weights, state] = await Promise.all([
    readIfPresent(join(dir, MODEL_JSON)),
    readIfPresent(join(dir, WEIGHTS_FILE)),
    readIfPresent(join(dir, TRAIN_STATE_FILE)),
  ]);
  if (!modelJson || !weights) {
    throw new Error(
      `--resume: ${dir} has no ${!modelJson ? MODEL_JSON : WEIGHTS_FILE}; resume needs a directory a previous diffq-train run wrote`,
    );
  }
  const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return readCheckpoint({ modelJson: modelJson.toString('utf8'), weights: bytes(weights), state: state && bytes(state) });
}
