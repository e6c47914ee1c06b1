/**
 * Where a model directory comes from (a local path or s3://bucket/prefix/model) and its identity:
 * the sha256 of weights.safetensors. The producer records the digest in the manifest; a worker
 * refuses shards of a run launched with other weights. The default model id — which names the
 * queue `sample.<id>` — is derived from the digest, so a producer and a worker that read the same
 * weights agree on the queue wherever the files live.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore } from '@diffq/storage';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.safetensors';

export interface LocalModel {
  /** As given: a path or an s3:// URI. */
  uri: string;
  /** A local directory holding model.json and weights.safetensors. */
  dir: string;
  /** sha256 of weights.safetensors, lowercase hex. */
  digest: string;
}

/** $DIFFQ_CACHE_DIR, else $XDG_CACHE_HOME/diffq, else ~/.cache/diffq. */
export function cacheDir(): string {
  return process.env.DIFFQ_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'diffq');
}

/** `model-<first 12 hex digits of the weights' sha256>`. */
export function defaultModelId(digest: string): string {
  return `model-${digest.slice(0, 12)}`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * sha256 of a file, cached under the cache dir by (absolute path, size, mtime): hashing a
 * multi-gigabyte checkpoint on every launch would cost seconds.
 */
export async function fileDigest(path: string): Promise<string> {
  const absolute = resolve(path);
  const info = await stat(absolute);
  const cacheFile = join(cacheDir(), 'digests', `${createHash('sha1').update(absolute).digest('hex')}.json`);
  const cached = await readFile(cacheFile, 'utf8')
    .then((text) => JSON.parse(text) as { size: number; mtimeMs: number; digest: string })
    .catch(() => undefined);
  if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached.digest;
  const digest = await sha256File(absolute);
  await mkdir(join(cacheDir(), 'digests'), { recursive: true })
    .then(() => writeFile(cacheFile, JSON.stringify({ size: info.size, mtimeMs: info.mtimeMs, digest })))
    .catch(() => {});
  return digest;
}

/** Checks that dir is a model directory; the error names the flag and the files expected. */
async function assertModelDir(dir: string, uri: string, flag: string): Promise<void> {
  for (const file of [MODEL_JSON, WEIGHTS_FILE]) {
    const info = await stat(join(dir, file)).catch(() => undefined);
    if (!info?.isFile()) {
      throw new Error(`${flag} ${uri}: no ${file} there; a model directory holds ${MODEL_JSON} and ${WEIGHTS_FILE} (DESIGN.md §5)`);
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
    const digest = createHash('sha256').update(weights).digest('hex');
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
