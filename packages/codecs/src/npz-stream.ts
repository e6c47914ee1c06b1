/**
 * An npz read from disk in row batches, for files of any size: Node refuses to read more than 2 GiB
 * into one buffer, and guided-diffusion's 256² and 512² reference batches (arr_0 of 10,000 images)
 * are larger. The zip's central directory (zip64 records and extra fields included, as numpy.savez
 * writes them with force_zip64) is read from the file's end; a member is then streamed from its
 * local header, stored or inflated, and handed out `rows` leading-axis slices at a time, with its
 * CRC-32 checked when the last byte has gone by. Memory: one batch plus the stream's buffers.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInflateRaw, crc32 as zlibCrc32 } from 'node:zlib';
import { checkInflationRatio, itemSize, type NpyArray, type NpyData, type NpyDtype, NpzError, npyData, parseNpyHeader } from './npz.ts';

export interface NpzMember {
  /** Without ".npy". */
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** One batch of an array's leading-axis rows. */
export interface NpyRows {
  dtype: NpyDtype;
  /** The whole array's shape. */
  shape: number[];
  /** Index of the batch's first row. */
  start: number;
  /** Elements of rows [start, start + data.length / rowElements). */
  data: NpyData;
}

const END_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_END_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

async function readAt(path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The members of the npz at path, by name, from its central directory. */
export async function npzMembers(path: string): Promise<Map<string, NpzMember>> {
  const handle = await open(path, 'r');
  const fileSize = (await handle.stat()).size;
  await handle.close();
  const tailLength = Math.min(fileSize, 22 + 0xffff + 20);
  const tail = await readAt(path, fileSize - tailLength, tailLength);
  let end = tail.length - 22;
  while (end >= 0 && tail.readUInt32LE(end) !== END_SIG) end--;
  if (end < 0) throw new NpzError(`${path}: not a zip/npz file (no end of central directory record)`);
  let count = tail.readUInt16LE(end + 10);
  let directorySize = tail.readUInt32LE(end + 12);
  let directoryOffset = tail.readUInt32LE(end + 16);
  if (end >= 20 && tail.readUInt32LE(end - 20) === ZIP64_LOCATOR_SIG) {
    const record = await readAt(path, Number(tail.readBigUInt64LE(end - 12)), 56);
    if (record.readUInt32LE(0) !== ZIP64_END_SIG) throw new NpzError(`${path}: corrupt zip64 end of central directory record`);
    count = Number(record.readBigUInt64LE(32));
    directorySize = Number(record.readBigUInt64LE(40));
    directoryOffset = Number(record.readBigUInt64LE(48));
  }
  const directory = await readAt(path, directoryOffset, directorySize);
  const members = new Map<string, NpzMember>();
  let declared = 0;
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (directory.readUInt32LE(p) !== CENTRAL_SIG) throw new NpzError(`${path}: zip central directory entry ${i} is corrupt`);
    const nameLength = directory.readUInt16LE(p + 28);
    const extraLength = directory.readUInt16LE(p + 30);
    const name = directory.subarray(p + 46, p + 46 + nameLength).toString('utf8');
    let size = directory.readUInt32LE(p + 24);
    let compressedSize = directory.readUInt32LE(p + 20);
    let localHeaderOffset = directory.readUInt32LE(p + 42);
    // Zip64 extended information: the 64-bit values of the fields that read 0xffffffff, in this order.
    for (let e = p + 46 + nameLength; e < p + 46 + nameLength + extraLength; ) {
      const id = directory.readUInt16LE(e);
      const length = directory.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = Number(directory.readBigUInt64LE(q));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(directory.readBigUInt64LE(q));
          q += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(directory.readBigUInt64LE(q));
      }
      e += 4 + length;
    }
    // Rows are streamed, so no total cap applies; a thousandfold inflation is still a zip bomb.
    declared += size;
    checkInflationRatio(declared, fileSize, name, `${path}: `);
    members.set(name.replace(/\.npy$/, ''), {
      name: name.replace(/\.npy$/, ''),
      method: directory.readUInt16LE(p + 10),
      crc: directory.readUInt32LE(p + 16),
      compressedSize,
      size,
      localHeaderOffset,
    });
    p += 46 + nameLength + extraLength + directory.readUInt16LE(p + 32);
  }
  return members;
}

/**
 * The rows of array `name` of the npz at path, `rows` leading-axis rows per batch (the last may be
 * shorter). Refuses a missing member, a compression other than stored/deflate and a CRC mismatch.
 */
export async function* readNpzRows(path: string, name: string, rows: number): AsyncGenerator<NpyRows> {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows per batch is ${rows}; accepted: an integer ≥ 1`);
  const members = await npzMembers(path);
  const member = members.get(name);
  if (!member) throw new NpzError(`${path}: no array "${name}"; it holds ${[...members.keys()].join(', ') || 'nothing'}`);
  if (member.method !== 0 && member.method !== 8)
    throw new NpzError(`${path}: "${name}" uses zip method ${member.method}; accepted: stored (0) or deflate (8)`);
  const local = await readAt(path, member.localHeaderOffset, 30);
  if (local.readUInt32LE(0) !== LOCAL_SIG) throw new NpzError(`${path}: corrupt local header of "${name}"`);
  const dataStart = member.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const raw = createReadStream(path, { start: dataStart, end: dataStart + member.compressedSize - 1, highWaterMark: 1 << 20 });
  const stream = member.method === 8 ? raw.pipe(createInflateRaw()) : raw;

  let crc = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let header: ReturnType<typeof parseNpyHeader>;
  let rowBytes = 0;
  let totalRows = 0;
  let nextRow = 0;
  const take = (bytes: number): Buffer => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    const out = all.subarray(0, bytes);
    pending = bytes < all.length ? [all.subarray(bytes)] : [];
    pendingBytes -= bytes;
    return out;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    crc = zlibCrc32(chunk, crc);
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (!header) {
      header = parseNpyHeader(pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes), `${path}: ${name}`);
      if (!header) continue;
      take(header.dataOffset);
      totalRows = header.shape[0] ?? 1;
      rowBytes = (header.shape.length === 0 ? 1 : header.shape.slice(1).reduce((a, b) => a * b, 1)) * itemSize(header.dtype);
    }
    const batchBytes = rows * rowBytes;
    while (nextRow < totalRows && (pendingBytes >= batchBytes || (pendingBytes >= (totalRows - nextRow) * rowBytes && pendingBytes > 0))) {
      const count = Math.min(rows, totalRows - nextRow);
      yield { dtype: header.dtype, shape: header.shape, start: nextRow, data: npyData(header.dtype, take(count * rowBytes)) };
      nextRow += count;
    }
  }
  if (!header || nextRow < totalRows) throw new NpzError(`${path}: "${name}" is truncated (${nextRow} of ${totalRows} rows)`);
  if (crc >>> 0 !== member.crc) throw new NpzError(`${path}: "${name}" CRC-32 mismatch (file corrupt or truncated)`);
}

/** A whole member of the npz at path, read without touching the others (for small arrays: statistics beside a large `arr_0`). */
export async function readNpzArray(path: string, name: string): Promise<NpyArray> {
  const parts: NpyData[] = [];
  let header: Pick<NpyRows, 'dtype' | 'shape'> | undefined;
  for await (const batch of readNpzRows(path, name, 1 << 20)) {
    header ??= batch;
    parts.push(batch.data);
  }
  if (!header) return { dtype: 'float64', shape: [0], data: new Float64Array(0) };
  if (parts.length === 1) return { dtype: header.dtype, shape: header.shape, data: parts[0] };
  const bytes = Buffer.concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));
  return { dtype: header.dtype, shape: header.shape, data: npyData(header.dtype, bytes) };
}

/** The dtype and shape of member `name`, reading only its first row; undefined when it has no rows. */
export async function npzArrayHeader(path: string, name: string): Promise<Pick<NpyArray, 'dtype' | 'shape'> | undefined> {
  for await (const batch of readNpzRows(path, name, 1)) return { dtype: batch.dtype, shape: batch.shape };
  return undefined;
}
