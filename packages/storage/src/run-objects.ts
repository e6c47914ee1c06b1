/**
 * Reading and writing a run's own objects: the manifest and shard metadata as validated JSON. Whether
 * a shard is done is shard-done.ts's to decide.
 */

import { createHash } from 'node:crypto';
import { keys, parseRunSpec, parseShardMeta, type RunSpec, type ShardMeta } from '@diffq/contract';
import type { ObjectStore } from './object-store.ts';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stable, human-readable JSON (2-space indent, trailing newline): same value, same bytes. */
export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

export async function putJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.put(key, encodeJson(value), { contentType: 'application/json' });
}

/** The parsed JSON at key, or undefined when missing; a SyntaxError names the key. */
export async function getJson(store: ObjectStore, key: string): Promise<unknown> {
  const bytes = await store.get(key);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new SyntaxError(`${store.urlOf(key)} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Validates and writes `<runId>/manifest.json`; returns the spec with its defaults filled in. */
export async function writeManifest(store: ObjectStore, spec: unknown): Promise<RunSpec> {
  const parsed = parseRunSpec(spec);
  await putJson(store, keys.manifest(parsed.runId), parsed);
  return parsed;
}

/** The run's manifest, or undefined if the run does not exist; throws InvalidPayload if it is malformed. */
export async function readManifest(store: ObjectStore, runId: string): Promise<RunSpec | undefined> {
  const json = await getJson(store, keys.manifest(runId));
  return json === undefined ? undefined : parseRunSpec(json);
}

export async function writeShardMeta(store: ObjectStore, meta: ShardMeta): Promise<void> {
  const parsed = parseShardMeta(meta);
  await putJson(store, keys.shardMeta(parsed.runId, parsed.shardIndex), parsed);
}

export async function readShardMeta(store: ObjectStore, runId: string, index: number): Promise<ShardMeta | undefined> {
  const json = await getJson(store, keys.shardMeta(runId, index));
  return json === undefined ? undefined : parseShardMeta(json);
}

/**
 * Temporary files older than this are a dead writer's (a worker killed mid-write): a live writer
 * touches its file with every chunk, and no put takes minutes between two chunks.
 */
export const ABANDONED_WRITE_MS = 5 * 60_000;

/** Removes the run's abandoned temporary files (`diffq resume` and the finalizer call it); returns where they were. */
export function sweepRun(store: ObjectStore, runId: string, olderThanMs = ABANDONED_WRITE_MS): Promise<string[]> {
  return store.sweepTemporary(keys.run(runId), olderThanMs);
}
