/**
 * The sha256 of a local file, remembered under the cache dir by (absolute path, size, mtime):
 * hashing a multi-gigabyte checkpoint on every launch would cost seconds.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cacheDir } from './cache-dir.ts';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** sha256 of the file, lowercase hex; recomputed only when its size or mtime changed. */
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
