/**
 * A small writer for ONNX graphs on the maintained protobuf definition (`onnx-proto`): named values,
 * initializers held as raw little-endian bytes, nodes with typed attributes. It knows nothing about
 * networks; `unet-graph.ts` describes the UNet with it.
 */
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

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
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

  /** A weight or constant stored in the model, converted to `type` (float16 rounds to nearest even). */
  initializer(hint: string, data: Float32Array | Float64Array | BigInt64Array, dims: number[], type: ElemType = 'float32'): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${hint}: ${data.length} values do not fill shape [${dims}]`);
    const name = this.fresh(hint);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: DATA_TYPE[type], rawData: toBytes(data, type) }));
    return name;
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

  /** Serialises the graph as an ONNX model (IR version 8, default domain at `opset`). */
  toModel(opset: number, docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'diffq',
      docString,
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
