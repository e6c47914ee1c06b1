/**
 * .npz as numpy.savez writes it: an uncompressed (stored) zip of `.npy` files. A shard is written
 * with fixed zip timestamps so that a retried job produces the same bytes (DESIGN.md §3), and is
 * read back by numpy.load and by guided-diffusion's evaluator (`np.load(path)["arr_0"]`).
 *
 * NPY 1.0: magic "\x93NUMPY", version 1.0, uint16 LE header length, then a Python dict literal
 * padded with spaces and a newline so that the data starts at a multiple of 64 bytes.
 */

export type NpyDtype = 'uint8' | 'int32' | 'int64' | 'float32';

export type NpyData = Uint8Array | Int32Array | BigInt64Array | Float32Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** C-order elements; length = product of shape. */
  data: NpyData;
}

const DESCR: Record<NpyDtype, string> = { uint8: '|u1', int32: '<i4', int64: '<i8', float32: '<f4' };
const ITEMSIZE: Record<NpyDtype, number> = { uint8: 1, int32: 4, int64: 8, float32: 4 };

export class NpzError extends Error {}

function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
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

/** Parses one .npy file (version 1.x/2.x, C order, the dtypes above). */
export function decodeNpy(bytes: Uint8Array, name = 'npy'): NpyArray {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (magic !== '\x93NUMPY') throw new NpzError(`${name}: not an .npy file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
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
  const size = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const byteLength = size * ITEMSIZE[dtype];
  if (offset + byteLength > bytes.length) throw new NpzError(`${name}: truncated (${bytes.length - offset} of ${byteLength} data bytes)`);
  // Copy so the typed array is aligned whatever the offset inside the zip.
  const body = new Uint8Array(byteLength);
  body.set(bytes.subarray(offset, offset + byteLength));
  const data: NpyData =
    dtype === 'uint8'
      ? body
      : dtype === 'int32'
        ? new Int32Array(body.buffer)
        : dtype === 'int64'
          ? new BigInt64Array(body.buffer)
          : new Float32Array(body.buffer);
  return { dtype, shape, data };
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

// MS-DOS date of 1980-01-01 00:00, the zip epoch: fixed so that identical arrays give identical bytes.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;

/** Zip of `<name>.npy` members, stored (no compression), in the given order. Members must stay under 4 GiB. */
export function encodeNpz(arrays: Record<string, NpyArray>): Uint8Array {
  const members = Object.entries(arrays).map(([name, array]) => {
    const data = encodeNpy(array);
    return { name: Buffer.from(`${name}.npy`, 'utf8'), data, crc: crc32(data), offset: 0 };
  });
  const localSize = members.reduce((s, m) => s + 30 + m.name.length + m.data.length, 0);
  const centralSize = members.reduce((s, m) => s + 46 + m.name.length, 0);
  if (localSize + centralSize + 22 > 0xffffffff) throw new NpzError('npz larger than 4 GiB; use smaller shards');
  const out = new Uint8Array(localSize + centralSize + 22);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const m of members) {
    m.offset = p;
    view.setUint32(p, LOCAL_SIG, true);
    view.setUint16(p + 4, 20, true); // version needed: 2.0
    view.setUint16(p + 6, 0, true); // flags
    view.setUint16(p + 8, 0, true); // method: stored
    view.setUint16(p + 10, DOS_TIME, true);
    view.setUint16(p + 12, DOS_DATE, true);
    view.setUint32(p + 14, m.crc, true);
    view.setUint32(p + 18, m.data.length, true);
    view.setUint32(p + 22, m.data.length, true);
    view.setUint16(p + 26, m.name.length, true);
    view.setUint16(p + 28, 0, true);
    out.set(m.name, p + 30);
    out.set(m.data, p + 30 + m.name.length);
    p += 30 + m.name.length + m.data.length;
  }
  const centralStart = p;
  for (const m of members) {
    view.setUint32(p, CENTRAL_SIG, true);
    view.setUint16(p + 4, 20, true); // made by
    view.setUint16(p + 6, 20, true); // needed
    view.setUint16(p + 8, 0, true);
    view.setUint16(p + 10, 0, true);
    view.setUint16(p + 12, DOS_TIME, true);
    view.setUint16(p + 14, DOS_DATE, true);
    view.setUint32(p + 16, m.crc, true);
    view.setUint32(p + 20, m.data.length, true);
    view.setUint32(p + 24, m.data.length, true);
    view.setUint16(p + 28, m.name.length, true);
    // extra, comment, disk, internal attrs: 0; external attrs: 0
    view.setUint32(p + 42, m.offset, true);
    out.set(m.name, p + 46);
    p += 46 + m.name.length;
  }
  view.setUint32(p, END_SIG, true);
  view.setUint16(p + 8, members.length, true);
  view.setUint16(p + 10, members.length, true);
  view.setUint32(p + 12, p - centralStart, true);
  view.setUint32(p + 16, centralStart, true);
  return out;
}

/**
 * Reads an npz written by encodeNpz or by numpy.savez (stored members, optional zip64 sizes in the
 * local header's extra field); compressed members (savez_compressed) are rejected by name.
 */
export function decodeNpz(bytes: Uint8Array): Record<string, NpyArray> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (view.getUint32(p, true) === END_SIG) {
      end = p;
      break;
    }
  }
  if (end < 0) throw new NpzError('not a zip file (no end-of-central-directory record)');
  const count = view.getUint16(end + 10, true);
  let p = view.getUint32(end + 16, true);
  const out: Record<string, NpyArray> = {};
  for (let i = 0; i < count; i++) {
    if (view.getUint32(p, true) !== CENTRAL_SIG) throw new NpzError(`zip central directory entry ${i} is corrupt`);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let local = view.getUint32(p + 42, true);
    const name = Buffer.from(bytes.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    // zip64: sizes/offset saturated at 0xffffffff live in extra field 0x0001, in this order.
    let q = p + 46 + nameLen;
    while (q < p + 46 + nameLen + extraLen) {
      const id = view.getUint16(q, true);
      const len = view.getUint16(q + 2, true);
      if (id === 1) {
        let r = q + 4;
        if (view.getUint32(p + 24, true) === 0xffffffff) {
          size = Number(view.getBigUint64(r, true));
          r += 8;
        }
        if (view.getUint32(p + 20, true) === 0xffffffff) r += 8;
        if (view.getUint32(p + 42, true) === 0xffffffff) local = Number(view.getBigUint64(r, true));
      }
      q += 4 + len;
    }
    if (method !== 0) throw new NpzError(`${name}: compressed npz members (method ${method}) are not supported; save with numpy.savez`);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const data = bytes.subarray(dataStart, dataStart + size);
    if (crc32(data) !== crc) throw new NpzError(`${name}: CRC-32 mismatch (file corrupt or truncated)`);
    out[name.replace(/\.npy$/, '')] = decodeNpy(data, name);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
