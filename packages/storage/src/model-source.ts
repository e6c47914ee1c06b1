/**
 * Where a model directory comes from (a local path or s3://bucket/prefix/model) and its identity:
 * the sha256 of weights.safetensors. The producer records the digest in the manifest (and names the
 * model's queue after it); a worker refuses shards of a run launched with other weights.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MODEL_JSON, WEIGHTS_FILE } from '@diffq/contract';
import { cacheDir } from './cache-dir.ts';
import { fileDigest } from './file-digest.ts';
import { openStore } from './open-store.ts';
import { sha256Hex } from './run-objects.ts';

export interface LocalModel {
  /** As given: a path or an s3:// URI. */
  uri: string;
  /** A local directory holding model.json and weights.safetensors. */
  dir: string;
  /** sha256 of weights.safetensors, lowercase hex. */
  digest: string;
}

/** Checks that dir is a model directory; the error names the flag and the files expected. */
async function assertModelDir(dir: string, uri: string, flag: string): Promise<void> {
  for (const file of [MODEL_JSON, WEIGHTS_FILE]) {
    const info = await stat(join(dir, file)).catch(() => undefined);
    if (!info?.isFile()) {
      throw new Error(`${flag} ${uri}: no ${file} there; a model directory holds ${MODEL_JSON} and ${WEIGHTS_FILE} (docs/models.md)`);
    }
  }
}

/**
 * A local directory for the model: the path itself, or for s3:// a copy under the cache dir
 * (downloaded once; the copy is keyed by URI and replaced when the object's bytes change).
 */
export async function fetchModel(uri: string, flag = '--model'): Promise<LocalModel> {
  if (!uri.startsWith('s3://')) {
    const dir = resolve(uri.startsWith('file://') ? decodeURIComponent(uri.slice('file://'.length)) : uri);
    await assertModelDir(dir, uri, flag);
    return { uri, dir, digest: await fileDigest(join(dir, WEIGHTS_FILE)) };
  }
  const store = openStore(uri);
  try {
    const [json, weights] = await Promise.all([store.get(MODEL_JSON), store.get(WEIGHTS_FILE)]);
    if (json === undefined || weights === undefined) {
      throw new Error(
        `${flag} ${uri}: no ${json === undefined ? MODEL_JSON : WEIGHTS_FILE} there; a model directory holds ${MODEL_JSON} and ${WEIGHTS_FILE}`,
      );
    }
    const digest = sha256Hex(weights);
    const dir = join(cacheDir(), 'models', createHash('sha1').update(uri).digest('hex').slice(0, 16), digest.slice(0, 16));
    await mkdir(dir, { recursive: true });
    // Temp + rename, so a crashed download never leaves a truncated model behind.
    for (const [file, bytes] of [
      [WEIGHTS_FILE, weights],
      [MODEL_JSON, json],
    ] as const) {
      const temp = join(dir, `.${file}.${process.pid}.tmp`);
      await writeFile(temp, bytes);
      await rename(temp, join(dir, file));
    }
    return { uri, dir, digest };
  } finally {
    store.close();
  }
}
