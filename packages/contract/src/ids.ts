/**
 * Run and model identifiers. Both end up inside storage keys, BullMQ job ids and queue names, so they
 * are restricted to lowercase letters, digits and '-' (no '/', '.', ':' or '..' can ever appear).
 */
import { z } from 'zod';
import { InvalidPayload } from './invalid-payload.ts';

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ID_RULE = 'must be 1 to 63 characters of a-z, 0-9 and "-", starting with a letter or digit';

export const RunIdSchema = z.string().regex(ID_PATTERN, ID_RULE);
export const ModelIdSchema = z.string().regex(ID_PATTERN, ID_RULE);

export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function isModelId(value: unknown): value is string {
  return isRunId(value);
}

/** Returns runId unchanged, or throws InvalidPayload naming it. */
export function assertRunId(runId: unknown): string {
  if (!isRunId(runId)) throw new InvalidPayload('run id', [`runId ${ID_RULE} (got ${JSON.stringify(runId)}).`]);
  return runId;
}

/** Returns modelId unchanged, or throws InvalidPayload naming it. */
export function assertModelId(modelId: unknown): string {
  if (!isModelId(modelId)) throw new InvalidPayload('model id', [`modelId ${ID_RULE} (got ${JSON.stringify(modelId)}).`]);
  return modelId;
}

/**
 * A fresh run id, `<kind>-YYYYMMDD-HHMMSS-xxxx` (UTC, 4 random hex digits): sortable by launch time,
 * and two launches in the same second are two runs. `kind` is "run" for `diffq launch`, "demo" for
 * `diffq demo`.
 */
export function newRunId(kind: string, now: Date, random: () => number = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const tail = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  return assertRunId(`${kind}-${stamp}-${tail}`);
}
