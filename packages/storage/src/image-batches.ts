/**
 * The images of an npz (`arr_0`, uint8 [N, H, W, C] or [N, H, W]) in batches of rows, for feature
 * extraction over image sets of any size: a local file is streamed (readNpzRows, one batch in
 * memory), an s3:// object is read whole (under 2 GiB, Node's limit for one buffer).
 */
import { decodeNpz, type NpyArray, readNpzRows } from '@diffq/codecs';
import { localPathOf, readFileUri } from './run-features.ts';

/** Images as the shards store them: uint8, [n, H, W, C]. */
export interface ImageBatch {
  images: Uint8Array;
  shape: [number, number, number, number];
}

/** The [N, H, W, C] of an image array, or the reason it is not one. */
export function imageShapeOf(array: Pick<NpyArray, 'dtype' | 'shape'>, where: string): [number, number, number, number] {
  if (array.dtype !== 'uint8' || (array.shape.length !== 4 && array.shape.length !== 3)) {
    throw new Error(`${where}: images must be uint8 [N, H, W, C] (or [N, H, W]); "arr_0" is ${array.dtype} [${array.shape.join(', ')}]`);
  }
  const [n, h, w, c = 1] = array.shape;
  return [n, h, w, c];
}

/** `arr_0` (or `member`) of the npz at uri, `rows` images per batch (the last may be shorter). */
export async function* npzImageBatches(uri: string, rows: number, member = 'arr_0'): AsyncGenerator<ImageBatch> {
  const path = localPathOf(uri);
  if (path !== undefined) {
    for await (const batch of readNpzRows(path, member, rows)) {
      const [, h, w, c] = imageShapeOf(batch, uri);
      const n = batch.data.length / (h * w * c);
      yield { images: batch.data as Uint8Array, shape: [n, h, w, c] };
    }
    return;
  }
  const bytes = await readFileUri(uri);
  if (bytes === undefined) throw new Error(`${uri} does not exist`);
  const array = decodeNpz(bytes)[member];
  if (!array) throw new Error(`${uri}: no "${member}" (uint8 images) in the npz`);
  const [n, h, w, c] = imageShapeOf(array, uri);
  const size = h * w * c;
  for (let start = 0; start < n; start += rows) {
    const count = Math.min(rows, n - start);
    yield { images: (array.data as Uint8Array).subarray(start * size, (start + count) * size), shape: [count, h, w, c] };
  }
}
