/**
 * .npz as numpy writes it: a zip of `.npy` files, stored (numpy.savez) or deflate-compressed
 * (numpy.savez_compressed); the zip container is fflate's. A shard is written stored, with fixed zip
 * timestamps so that a retried job produces the same bytes (docs/design.md#storage-layout), and is read back by
 * numpy.load and by guided-diffusion's evaluator (`np.load(path)["arr_0"]`).
 *
 * NPY 1.0: magic "\x93NUMPY", version 1.0, uint16 LE header length, then a Python dict literal
 * padded with spaces and a newline so that the data starts at a multiple of 64 bytes.
 */
import { unzipSync, type Zippable, zipSync } from 'fflate';

export type NpyDtype = 'uint8' | 'int32' | 'int64' | 'float32' | 'float64';

export type NpyData = Uint8Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** C-order elements; length = product of shape. */
  data: NpyData;
}

const DESCR: Record<NpyDtype, string> = { uint8: '|u1', int32: '<i4', int64: '<i8', float32: '<f4', float64: '<f8' };
const ITEMSIZE: Record<NpyDtype, number> = { uint8: 1, int32: 4, int64: 8, float32: 4, float64: 8 };

export class NpzError extends Error {}

function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Float64Array) return 'float64';
  return 'float32';
}

/** An array with its dtype taken from the typed array. */
export function npyArray(data: NpyData, shape: number[]): NpyArray {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new NpzError(`npy shape [${shape}] holds ${size} elements but the data has ${data.length}`);
  return { dtype: dtypeOf(data), shape, data };
}

/** int64 array from JavaScript integers (seeds, labels); each must be a safe integer. */
export function int64Array(values: readonly number[]): BigInt64Array {
  return BigInt64Array.from(values, (v) => {
    if (!Number.isSafeInteger(v)) throw new NpzError(`int64 value ${v} is not a safe integer`);
    return BigInt(v);
  });
}

function shapeLiteral(shape: number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** One .npy file's bytes (little-endian; this module assumes a little-endian host, as Node on x86/arm is). */
export function encodeNpy(array: NpyArray): Uint8Array {
  let header = `{'descr': '${DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shapeLiteral(array.shape)}, }`;
  const fixed = 6 + 2 + 2;
  const total = Math.ceil((fixed + header.length + 1) / 64) * 64;
  header = `${header.padEnd(total - fixed - 1, ' ')}\n`;
  const body = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(total + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), fixed);
  out.set(body, total);
  return out;
}

/** An .npy header: dtype, shape and where the data starts. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Bytes before the data (magic, version, header length, header). */
  dataOffset: number;
}

/** Bytes per element of a dtype. */
export function itemSize(dtype: NpyDtype): number {
  return ITEMSIZE[dtype];
}

/** Parses an .npy header from the file's first bytes; undefined when more bytes are needed. */
export function parseNpyHeader(bytes: Uint8Array, name = 'npy'): NpyHeader | undefined {
  if (bytes.length < 12) return undefined;
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (magic !== '\x93NUMPY') throw new NpzError(`${name}: not an .npy file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start + headerLen) return undefined;
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr);
  if (!dtype) throw new NpzError(`${name}: dtype ${descr} is not one of ${Object.values(DESCR).join(', ')}`);
  if (fortran !== 'False') throw new NpzError(`${name}: fortran_order arrays are not supported`);
  if (shapeText === undefined) throw new NpzError(`${name}: header has no shape`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  return { dtype, shape, dataOffset: start + headerLen };
}

/** Typed elements of a dtype over bytes (copied, so that they are aligned). */
export function npyData(dtype: NpyDtype, bytes: Uint8Array): NpyData {
  const body = new Uint8Array(bytes.length);
  body.set(bytes);
  return dtype === 'uint8'
    ? body
    : dtype === 'int32'
      ? new Int32Array(body.buffer)
      : dtype === 'int64'
        ? new BigInt64Array(body.buffer)
        : dtype === 'float32'
          ? new Float32Array(body.buffer)
          : new Float64Array(body.buffer);
}

/** Parses one .npy file (version 1.x/2.x, C order, the dtypes above). */
export function decodeNpy(bytes: Uint8Array, name = 'npy'): NpyArray {
  const parsed = parseNpyHeader(bytes, name);
  if (!parsed) throw new NpzError(`${name}: truncated header`);
  const { dtype, shape, dataOffset: offset } = parsed;
  const size = shape.reduce((a, b) => a * b, 1);
  const byteLength = size * ITEMSIZE[dtype];
  if (offset + byteLength > bytes.length) throw new NpzError(`${name}: truncated (${bytes.length - offset} of ${byteLength} data bytes)`);
  return { dtype, shape, data: npyData(dtype, bytes.subarray(offset, offset + byteLength)) };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, reflected, as zip uses). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// 1980-01-01 00:00 local time, the zip epoch: fixed so that identical arrays give identical bytes.
const ZIP_EPOCH = new Date(1980, 0, 1);

export interface EncodeNpzOptions {
  /** Deflate the members as numpy.savez_compressed does (level 6); default stored, as numpy.savez. */
  compress?: boolean;
}

/** Zip of `<name>.npy` members in the given order. The whole file must stay under 4 GiB (no zip64). */
export function encodeNpz(arrays: Record<string, NpyArray>, options: EncodeNpzOptions = {}): Uint8Array {
  const members: Zippable = {};
  let bytes = 0;
  for (const [name, array] of Object.entries(arrays)) {
    const data = encodeNpy(array);
    bytes += data.length;
    members[`${name}.npy`] = data;
  }
  if (bytes > 0xfffffff0)
    throw new NpzError(`npz members hold ${bytes} bytes, over the 4 GiB a zip without zip64 holds; use smaller shards`);
  return zipSync(members, { level: options.compress ? 6 : 0, mtime: ZIP_EPOCH });
}

/**
 * What an npz may inflate to. 2 GiB holds the largest reference batch guided-diffusion publishes
 * (ImageNet 256: ~2.0 GB of images and statistics) and stays under what one Node buffer may hold.
 */
export const NPZ_MAX_BYTES = 2 * 1024 ** 3;
/**
 * Past 64 MiB inflated, members may declare at most 100× the file's size: image and statistics
 * arrays deflate 2–10× (numpy.savez stores them as they are), a zip bomb a thousandfold.
 */
export const NPZ_MAX_RATIO = 100;
const RATIO_FLOOR_BYTES = 64 * 1024 ** 2;

/**
 * Refuses members that declare more than NPZ_MAX_RATIO× the file's size past RATIO_FLOOR_BYTES:
 * checked before anything is inflated, by the whole-file reader and the streaming one alike.
 */
export function checkInflationRatio(declared: number, fileBytes: number, member: string, where: string): void {
  if (declared > RATIO_FLOOR_BYTES && declared > NPZ_MAX_RATIO * fileBytes)
    throw new NpzError(
      `${where}its ${fileBytes} bytes declare ${declared} inflated bytes (${Math.round(declared / fileBytes)}× by ${member}); accepted: at most ${NPZ_MAX_RATIO}× past ${RATIO_FLOOR_BYTES} bytes (a zip bomb?)`,
    );
}

export interface DecodeNpzOptions {
  /** Total inflated bytes the members may declare (default NPZ_MAX_BYTES). */
  maxBytes?: number;
  /** The file's path or URL, to begin the errors with. */
  source?: string;
}

/**
 * Reads an npz written by encodeNpz, numpy.savez or numpy.savez_compressed (stored or deflated
 * members, zip64 sizes). The members' declared sizes are checked against the caps before anything
 * is inflated (fflate never inflates a member past its declared size), and every member against
 * the CRC-32 its zip entry names, which fflate does not do, so a corrupted stored shard is refused
 * instead of read as wrong pixels.
 */
export function decodeNpz(bytes: Uint8Array, options: DecodeNpzOptions = {}): Record<string, NpyArray> {
  const maxBytes = options.maxBytes ?? NPZ_MAX_BYTES;
  const where = options.source ? `${options.source}: ` : '';
  let declared = 0;
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, {
      filter: (file) => {
        declared += file.originalSize;
        if (declared > maxBytes)
          throw new NpzError(
            `${where}its members inflate to more than ${maxBytes} bytes (${declared} declared by ${file.name} and those before it); accepted: at most ${maxBytes}`,
          );
        checkInflationRatio(declared, bytes.length, file.name, where);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof NpzError) throw error;
    throw new NpzError(`${where}not a readable zip/npz file (${(error as Error).message})`);
  }
  const checksums = memberChecksums(bytes);
  const out: Record<string, NpyArray> = {};
  for (const [name, data] of Object.entries(members)) {
    if (crc32(data) !== checksums.get(name)) throw new NpzError(`${where}${name}: CRC-32 mismatch (file corrupt or truncated)`);
    out[name.replace(/\.npy$/, '')] = decodeNpy(data, `${where}${name}`);
  }
  return out;
}

const END_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;

/** Member name → the CRC-32 its central directory entry records. */
function memberChecksums(bytes: Uint8Array): Map<string, number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = bytes.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== END_SIG) end--;
  let count = view.getUint16(end + 10, true);
  let p = view.getUint32(end + 16, true);
  if (end >= 20 && view.getUint32(end - 20, true) === ZIP64_LOCATOR_SIG) {
    const zip64End = Number(view.getBigUint64(end - 12, true));
    count = Number(view.getBigUint64(zip64End + 32, true));
    p = Number(view.getBigUint64(zip64End + 48, true));
  }
  const checksums = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    if (view.getUint32(p, true) !== CENTRAL_SIG) throw new NpzError(`zip central directory entry ${i} is corrupt`);
    const nameLength = view.getUint16(p + 28, true);
    const name = Buffer.from(bytes.subarray(p + 46, p + 46 + nameLength)).toString('utf8');
    checksums.set(name, view.getUint32(p + 16, true));
    p += 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
  }
  return checksums;
}
