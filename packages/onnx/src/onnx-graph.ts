/**
 * A small writer for ONNX graphs on the maintained protobuf definition (`onnx-proto`): named values,
 * initializers held as raw little-endian bytes, nodes with typed attributes. It knows nothing about
 * networks; `unet-graph.ts` describes the UNet with it.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'float64' | 'float16' | 'int64' | 'uint8';

const DATA_TYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A dimension: a size, or the name of a symbolic dimension such as the batch `N`. */
export type Dim = number | string;

/** An attribute: an integer, a list of integers, a string, or a float as `{ f: value }`. */
export type AttributeValue = number | number[] | string | { f: number };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a float32 to IEEE half precision (round to nearest even), returned as its 16 bits. */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa moves to the next exponent, up to 0x7c00 (infinity), as it should.
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

function toBytes(data: Float32Array | Float64Array | BigInt64Array, type: ElemType): Uint8Array {
  // uint8 is an output type (decoded images); no graph stores uint8 weights.
  if (type === 'uint8') throw new Error('a uint8 initializer is not supported');
  if (type === 'float16') {
    if (data instanceof BigInt64Array) throw new Error('an int64 tensor cannot be stored as float16');
    const halves = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) halves[i] = floatToHalfBits(data[i]);
    return new Uint8Array(halves.buffer);
  }
  if (type === 'float64') {
    if (data instanceof BigInt64Array) throw new Error('an int64 tensor cannot be stored as float64');
    return new Uint8Array(Float64Array.from(data).buffer);
  }
  if (type === 'float32' && data instanceof Float64Array) return new Uint8Array(Float32Array.from(data).buffer);
  // Copy so that the model owns its bytes whatever the caller does with `data` afterwards.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** An initializer as given: converted to bytes only when the model is written, so large weights are copied once. */
interface Initializer {
  name: string;
  dims: number[];
  type: ElemType;
  data: Float32Array | Float64Array | BigInt64Array;
}

const byteLength = (i: Initializer) => i.dims.reduce((a, b) => a * b, 1) * (i.type === 'float16' ? 2 : i.type === 'float32' ? 4 : 8);

/**
 * protobuf cannot encode a message over 2 GiB, so a model whose weights pass this many bytes is written
 * with its weights as ONNX external data (writeModel) instead of as one protobuf.
 */
export const EXTERNAL_DATA_THRESHOLD = 1.5 * 2 ** 30;
/** Initializers smaller than this stay inside the protobuf even when the weights are external (shapes, axes, scalars). */
const INLINE_BYTES = 1024;
/** Offsets of external tensors are page-aligned, so that onnxruntime can map them from the file. */
const EXTERNAL_ALIGNMENT = 4096;

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();
  private counter = 0;

  /** `names` are the graph's input and output names, kept free of generated values. */
  constructor(
    readonly name: string,
    names: string[] = [],
  ) {
    for (const n of names) this.used.add(n);
  }

  /** A fresh value name derived from `hint`. */
  private fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  private valueInfo(name: string, type: ElemType, dims: Dim[]) {
    return onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: DATA_TYPE[type],
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(this.valueInfo(name, type, dims));
    return name;
  }

  /** Publishes `value` as the graph output `name` (one of the names given to the constructor). */
  output(value: string, name: string, type: ElemType, dims: Dim[]): void {
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name }));
    this.outputs.push(this.valueInfo(name, type, dims));
  }

  /**
   * A weight or constant stored in the model, converted to `type` (float16 rounds to nearest even) when
   * the model is written: `data` must not change until then.
   */
  initializer(hint: string, data: Float32Array | Float64Array | BigInt64Array, dims: number[], type: ElemType = 'float32'): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${hint}: ${data.length} values do not fill shape [${dims}]`);
    if (type === 'float16' && data instanceof BigInt64Array)
      throw new Error(`initializer ${hint}: an int64 tensor cannot be stored as float16`);
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, type, data });
    return name;
  }

  /** Bytes the initializers take in the model. */
  get initializerBytes(): number {
    return this.initializers.reduce((n, i) => n + byteLength(i), 0);
  }

  /** A small shared constant (shapes, axes, scalars); equal constants are stored once. */
  constant(values: number[], type: ElemType, dims: number[] = [values.length]): string {
    const key = `${type}:${dims}:${values}`;
    const known = this.constants.get(key);
    if (known) return known;
    const data =
      type === 'int64'
        ? BigInt64Array.from(values.map(BigInt))
        : type === 'float64'
          ? Float64Array.from(values)
          : Float32Array.from(values);
    const name = this.initializer(`const_${type}`, data, dims, type);
    this.constants.set(key, name);
    return name;
  }

  /** Adds one node and returns the names of its outputs (one unless `outputs` says otherwise). */
  nodeN(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, hint = opType, outputs = 1): string[] {
    const outNames = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? hint : `${hint}_${i}`));
    const attribute = Object.entries(attributes).map(([name, v]) => {
      if (typeof v === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
      if (typeof v === 'object') return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.f };
      if (!Number.isInteger(v)) throw new Error(`attribute ${name} of ${opType}: ${v} is not an integer; write floats as { f: ${v} }`);
      return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
    });
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: outNames, name: outNames[0], attribute }));
    return outNames;
  }

  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, hint = opType): string {
    return this.nodeN(opType, inputs, attributes, hint)[0];
  }

  /** A Cast of `value` to `to`. */
  cast(value: string, to: ElemType, hint: string): string {
    return this.node('Cast', [value], { to: DATA_TYPE[to] }, hint);
  }

  private encode(opset: number, docString: string, initializer: InstanceType<typeof onnx.TensorProto>[]): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'diffq',
      docString,
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: this.name, node: this.nodes, initializer, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** Serialises the graph as an ONNX model (IR version 8, default domain at `opset`), weights inside. */
  toModel(opset: number, docString = ''): Uint8Array {
    const initializers = this.initializers.map(({ name, dims, type, data }) =>
      onnx.TensorProto.create({ name, dims, dataType: DATA_TYPE[type], rawData: toBytes(data, type) }),
    );
    return this.encode(opset, docString, initializers);
  }

  /**
   * Writes the model to `path` with its weights as ONNX external data in `<path>.data` beside it (every
   * initializer of at least 1 KiB, page-aligned): the form protobuf's 2 GiB limit leaves for large
   * networks. onnxruntime reads the data file when it opens `path`, so the two stay side by side. Each
   * file is written under a temporary name and renamed, the data first: a reader that sees the model
   * sees its data complete, and two processes writing the same model do not truncate each other's.
   */
  writeModel(path: string, opset: number, docString = ''): void {
    const dataPath = `${path}.data`;
    const temp = (p: string) => `${p}.${process.pid}.tmp`;
    const fd = openSync(temp(dataPath), 'w');
    const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
    let offset = 0;
    try {
      for (const init of this.initializers) {
        const { name, dims, type, data } = init;
        const bytes = byteLength(init);
        if (bytes < INLINE_BYTES) {
          initializers.push(onnx.TensorProto.create({ name, dims, dataType: DATA_TYPE[type], rawData: toBytes(data, type) }));
          continue;
        }
        offset = Math.ceil(offset / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
        // float32 data is written from the caller's array as it is; other types are converted first.
        const raw =
          type === 'float32' && data instanceof Float32Array
            ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
            : toBytes(data, type);
        writeAll(fd, raw, offset);
        initializers.push(
          onnx.TensorProto.create({
            name,
            dims,
            dataType: DATA_TYPE[type],
            dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
            externalData: [
              { key: 'location', value: basename(dataPath) },
              { key: 'offset', value: String(offset) },
              { key: 'length', value: String(raw.byteLength) },
            ],
          }),
        );
        offset += raw.byteLength;
      }
    } finally {
      closeSync(fd);
    }
    renameSync(temp(dataPath), dataPath);
    const modelFd = openSync(temp(path), 'w');
    try {
      writeAll(modelFd, this.encode(opset, docString, initializers), 0);
    } finally {
      closeSync(modelFd);
    }
    renameSync(temp(path), path);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}
