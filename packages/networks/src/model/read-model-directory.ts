/** Reads a model directory from the local filesystem; everything after the two reads is parseModelDirectory. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_JSON, WEIGHTS_FILE } from '@diffq/contract';
import { type ModelDirectory, parseModelDirectory } from './model-directory.ts';

async function read(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`model directory: ${path} does not exist; a model directory holds ${MODEL_JSON} and ${WEIGHTS_FILE}`);
    }
    throw e;
  }
}

export async function readModelDirectory(dir: string): Promise<ModelDirectory> {
  const [json, weights] = await Promise.all([read(join(dir, MODEL_JSON)), read(join(dir, WEIGHTS_FILE))]);
  return parseModelDirectory(
    json.toString('utf8'),
    new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
    join(dir, WEIGHTS_FILE),
  );
}
