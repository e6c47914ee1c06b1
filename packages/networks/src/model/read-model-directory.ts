/** Reads a model directory from the local filesystem; everything after the two reads is parseModelDirectory. */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON, WEIGHTS_FILE } from '@diffq/contract';
import { type ModelDirectory, parseModelDirectory } from './model-directory.ts';

/** readFile refuses files over 2 GiB (DiT-XL/2 in float32 is 2.7 GB), so weights are read in pieces of this size. */
const PIECE_BYTES = 2 ** 30;

async function readLarge(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const bytes = Buffer.allocUnsafe(size);
    for (let at = 0; at < size; ) {
      const { bytesRead } = await file.read(bytes, at, Math.min(PIECE_BYTES, size - at), at);
      if (bytesRead === 0) throw new Error(`model directory: ${path} ended after ${at} of its ${size} bytes`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}

async function read(path: string, large = false): Promise<Buffer> {
  try {
    return large ? await readLarge(path) : await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`model directory: ${path} does not exist; a model directory holds ${MODEL_JSON} and ${WEIGHTS_FILE}`);
    }
    throw e;
  }
}

export async function readModelDirectory(dir: string): Promise<ModelDirectory> {
  const [json, weights] = await Promise.all([read(join(dir, MODEL_JSON)), read(join(dir, WEIGHTS_FILE), true)]);
  return parseModelDirectory(json.toString('utf8'), new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
}
