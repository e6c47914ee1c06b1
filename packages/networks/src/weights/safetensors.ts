/**
 * The safetensors container (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON mapping tensor names to {dtype, shape, data_offsets}, then one
 * data block. PyTorch checkpoints converted with `safetensors.torch.save_file(state_dict)` keep their
 * state_dict key names, which is how reference checkpoints reach diffq unchanged.
 */

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8';

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface StoredTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F16 and BF16 are widened to float32, the other dtypes keep their own width. */
  data: TensorData;
}

const ELEMENT_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1 };

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Widens an IEEE half-precision number (as its 16 bits) to a JS number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Views a slice as a typed array without copying when the slice is aligned to the element size
 * (the format puts 8-byte tensors first for that reason), and copies otherwise.
 */
function view<T>(bytes: Uint8Array, begin: number, end: number, width: number, make: (b: ArrayBuffer, o: number, n: number) => T): T {
  const offset = bytes.byteOffset + begin;
  const count = (end - begin) / width;
  if (offset % width === 0) return make(bytes.buffer as ArrayBuffer, offset, count);
  const copy = bytes.slice(begin, end);
  return make(copy.buffer as ArrayBuffer, 0, count);
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array, begin: number, end: number): TensorData {
  switch (dtype) {
    case 'F64':
      return view(bytes, begin, end, 8, (b, o, n) => new Float64Array(b, o, n));
    case 'F32':
      return view(bytes, begin, end, 4, (b, o, n) => new Float32Array(b, o, n));
    case 'I64':
      return view(bytes, begin, end, 8, (b, o, n) => new BigInt64Array(b, o, n));
    case 'I32':
      return view(bytes, begin, end, 4, (b, o, n) => new Int32Array(b, o, n));
    case 'U8':
      return bytes.subarray(begin, end);
    case 'F16':
    case 'BF16': {
      const out = new Float32Array((end - begin) / 2);
      const dv = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
      const widen = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < out.length; i++) {
        const h = dv.getUint16(2 * i, true);
        if (dtype === 'F16') out[i] = halfToFloat(h);
        else {
          widen.setUint32(0, h << 16, true);
          out[i] = widen.getFloat32(0, true);
        }
      }
      return out;
    }
  }
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** One tensor's header entry, checked on its own: dtype, shape, offsets as integers in order and sized by dtype × shape. */
function headerEntry(source: string, name: string, entry: unknown, dataBytes: number): HeaderEntry {
  const where = `${source}: tensor "${name}"`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
    throw new SafetensorsError(`${where} is ${JSON.stringify(entry)}; accepted: an object {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  const width = ELEMENT_BYTES[dtype as SafetensorsDtype];
  if (typeof dtype !== 'string' || !Object.hasOwn(ELEMENT_BYTES, dtype))
    throw new SafetensorsError(`${where} has dtype ${JSON.stringify(dtype)}; accepted: ${Object.keys(ELEMENT_BYTES).join(', ')}`);
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw new SafetensorsError(`${where} has shape ${JSON.stringify(shape)}; accepted: a list of integers ≥ 0`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    throw new SafetensorsError(
      `${where} has data_offsets ${JSON.stringify(offsets)}; accepted: [begin, end], two integers ≥ 0 counted from the start of the data block`,
    );
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new SafetensorsError(`${where} has data_offsets [${begin}, ${end}): it ends before it begins`);
  if (end > dataBytes)
    throw new SafetensorsError(`${where} has data_offsets [${begin}, ${end}) past the end of the ${dataBytes}-byte data block`);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== count * width)
    throw new SafetensorsError(
      `${where} of shape [${shape}] ${dtype} needs ${count * width} bytes (${count} × ${width}) but its data_offsets [${begin}, ${end}) hold ${end - begin}`,
    );
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/**
 * The format's own rule: the tensors tile the data block exactly, each beginning where the one
 * before it ends, so no byte is read as two tensors and no byte is left unexplained.
 */
function checkTiling(source: string, entries: HeaderEntry[], dataBytes: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous: HeaderEntry | undefined;
  for (const e of sorted) {
    if (e.begin < at && previous)
      throw new SafetensorsError(
        `${source}: tensors "${previous.name}" [${previous.begin}, ${previous.end}) and "${e.name}" [${e.begin}, ${e.end}) overlap`,
      );
    if (e.begin > at)
      throw new SafetensorsError(
        `${source}: bytes [${at}, ${e.begin}) of the data block belong to no tensor (before "${e.name}"); accepted: tensors laid end to end`,
      );
    at = e.end;
    previous = e;
  }
  if (at !== dataBytes)
    throw new SafetensorsError(
      `${source}: the data block is ${dataBytes} bytes but its tensors end at byte ${at}; accepted: tensors that fill it exactly`,
    );
}

/**
 * Parses a whole safetensors file held in memory. `source` (the file's path or name) begins every
 * error, which names the tensor and what is wrong with it.
 */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  if (bytes.byteLength < 8)
    throw new SafetensorsError(`${source}: file is ${bytes.byteLength} bytes, shorter than its 8-byte header length`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) {
    throw new SafetensorsError(`${source}: header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new SafetensorsError(
      `${source}: header is ${JSON.stringify(header)}; accepted: a JSON object of tensor names to {dtype, shape, data_offsets}`,
    );
  const data = bytes.subarray(8 + headerLength);
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === 'string'))
        throw new SafetensorsError(`${source}: __metadata__ is ${JSON.stringify(entry)}; accepted: an object of string values`);
      metadata = entry as Record<string, string>;
      continue;
    }
    entries.push(headerEntry(source, name, entry, data.byteLength));
  }
  checkTiling(source, entries, data.byteLength);
  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(e.dtype, data, e.begin, e.end) });
  return { tensors, metadata };
}

/** A floating-point tensor's values as float32: F64 is rounded, F32, F16 and BF16 are already float32 once read. */
export function float32Values(tensor: StoredTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as Float64Array);
}

/**
 * What `writeSafetensors` takes: F32 / F64 / I64 / I32 / U8, decided by the array's type, or the raw
 * 16-bit patterns of F16 / BF16 values in a Uint16Array with `dtype` saying which.
 */
export interface TensorToWrite {
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
  dtype?: 'F16' | 'BF16';
}

function dtypeOf({ data, dtype }: TensorToWrite): SafetensorsDtype {
  if (data instanceof Uint16Array) {
    if (!dtype) throw new SafetensorsError('safetensors: a Uint16Array tensor needs dtype "F16" or "BF16"');
    return dtype;
  }
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

/**
 * Serialises tensors in safetensors layout, widest elements first so that every tensor is aligned
 * to its element size and `readSafetensors` views it without copying.
 */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort(
    (a, b) => tensors[b].data.BYTES_PER_ELEMENT - tensors[a].data.BYTES_PER_ELEMENT || (a < b ? -1 : 1),
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const { data, shape } = tensors[name];
    header[name] = { dtype: dtypeOf(tensors[name]), shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const name of names) {
    const { data } = tensors[name];
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}
