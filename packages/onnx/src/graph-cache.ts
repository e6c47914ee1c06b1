/**
 * Graphs diffq builds from a model directory's weights are cached in `<modelDir>/.diffq-onnx/`,
 * one file per (builder version, build settings, weights file size and modification time), so a
 * worker builds a graph once per model and then opens the file directly.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEIGHTS_FILE } from '@diffq/networks';

export const ONNX_CACHE_DIR = '.diffq-onnx';

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
  /** The directory's weights file, whose size and modification time key the cache. */
  weightsFile: string = WEIGHTS_FILE,
): Promise<CachedGraph> {
  const weights = await stat(join(modelDir, weightsFile));
  const key = createHash('sha256')
    .update(JSON.stringify({ settings, size: weights.size, mtime: weights.mtimeMs }))
    .digest('hex')
    .slice(0, 16);
  const path = join(modelDir, ONNX_CACHE_DIR, `${stem}-${key}.onnx`);
  if (existsSync(path)) return { graph: path, note: `graph from the cache ${path}` };
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  try {
    await mkdir(join(modelDir, ONNX_CACHE_DIR), { recursive: true });
  } catch (e) {
    // A read-only directory: the graph is built in memory, or in a temporary directory when it must be a file.
    const graph = await build(join(await mkdtemp(join(tmpdir(), 'diffq-graph-')), `${stem}.onnx`));
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
