/**
 * Graphs diffq builds from a model directory's weights are cached in `<modelDir>/.diffq-onnx/`,
 * one file per (builder version, build settings, sha256 of the weights), so a worker builds a graph
 * once per model and then opens the file directly. The key is the weights' content, not their size
 * and modification time: fine-tuned checkpoints of one architecture have the same size, and copies
 * (rsync -t, tar, cp -p) keep times, so a size+mtime key could open a graph of other weights.
 * Hashing costs ~0.3 s per 100 MB, once per open.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WEIGHTS_FILE } from '@diffq/networks';
import { temporaryGraphDirectory } from './temporary-graph-directory.ts';

export const ONNX_CACHE_DIR = '.diffq-onnx';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface CachedGraph {
  /** The cached file's path, or the bytes when the directory could not be written. */
  graph: Uint8Array | string;
  /** Where the graph came from, for logs. */
  note: string;
}

/**
 * Returns `<modelDir>/.diffq-onnx/<stem>-<key>.onnx`, building and writing it first when absent.
 * `settings` holds everything besides the weights file that changes the graph (builder version,
 * model flags, precision). A directory that cannot be written (a read-only mount) gets the graph in
 * memory (or in a temporary directory, for a graph written with external data) instead.
 */
export async function cachedGraph(
  modelDir: string,
  stem: string,
  settings: unknown,
  /** Returns the graph's bytes, or writes it (and any external data beside it) at the path given and returns that path. */
  build: (path: string) => Uint8Array | string | Promise<Uint8Array | string>,
  /** The directory's weights file, whose sha256 keys the cache. */
  weightsFile: string = WEIGHTS_FILE,
): Promise<CachedGraph> {
  const weights = await sha256File(join(modelDir, weightsFile));
  const key = createHash('sha256').update(JSON.stringify({ settings, weights })).digest('hex').slice(0, 16);
  const path = join(modelDir, ONNX_CACHE_DIR, `${stem}-${key}.onnx`);
  if (existsSync(path)) return { graph: path, note: `graph from the cache ${path}` };
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  try {
    await mkdir(join(modelDir, ONNX_CACHE_DIR), { recursive: true });
  } catch (e) {
    // A read-only directory: the graph is built in memory, or in a temporary directory when it must be a file.
    const graph = await build(join(temporaryGraphDirectory('diffq-graph-'), `${stem}.onnx`));
    return { graph, note: `graph built in ${seconds()} s, not cached (${(e as Error).message.split('\n')[0]})` };
  }
  const bytes = await build(path);
  if (typeof bytes === 'string') return { graph: bytes, note: `graph built in ${seconds()} s and cached as ${bytes}` };
  try {
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, path);
    return { graph: bytes, note: `graph built in ${seconds()} s and cached as ${path}` };
  } catch (e) {
    return { graph: bytes, note: `graph built in ${seconds()} s, not cached (${(e as Error).message.split('\n')[0]})` };
  }
}
