/**
 * Files named on a command line (--ref, `diffq fid`'s arguments, `ref-stats --data`): only a
 * regular file is read, and only up to a size, so `/dev/zero`, a FIFO or a directory is refused
 * with the reason instead of read until memory runs out (or reported as missing).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** 2 GiB: the largest npz decodeNpz accepts, and about what one Node buffer holds. */
export const LOCAL_FILE_MAX_BYTES = 2 * 1024 ** 3;

export class LocalFileError extends Error {
  override readonly name = 'LocalFileError';
}

function kindOf(stats: {
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
}): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Opens path for reading if it is a regular file of at most maxBytes; undefined when nothing is there. */
async function openRegularFile(path: string, maxBytes: number) {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise wait for one forever.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EISDIR') throw new LocalFileError(`${path} is a directory; accepted: a regular file`);
    throw error;
  }
  try {
    // fstat of the opened file, not stat of the path: what is checked is what is read.
    const stats = await handle.stat();
    if (!stats.isFile()) throw new LocalFileError(`${path} is ${kindOf(stats)}; accepted: a regular file`);
    if (stats.size > maxBytes) throw new LocalFileError(`${path} is ${stats.size} bytes; accepted: at most ${maxBytes}`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The bytes of a local regular file, or undefined when nothing is at path. */
export async function readLocalFile(path: string, maxBytes = LOCAL_FILE_MAX_BYTES): Promise<Uint8Array | undefined> {
  const handle = await openRegularFile(path, maxBytes);
  if (!handle) return undefined;
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * Whether a regular file is at path (false when nothing is), for readers that stream it in pieces
 * and so take any size; a directory, device or FIFO is refused as readLocalFile refuses it.
 */
export async function checkLocalFile(path: string): Promise<boolean> {
  const handle = await openRegularFile(path, Number.POSITIVE_INFINITY);
  await handle?.close();
  return handle !== undefined;
}
