/**
 * What every builder of a network's ONNX graph from its state_dict starts from: the graph, the
 * parameters (already checked against the network's plan), and the small node patterns all of them use.
 */
import { float32Values, type StoredTensor } from '@diffq/networks';
import { type ElemType, OnnxGraph } from './onnx-graph.ts';

export abstract class StateDictGraphBuilder {
  readonly g: OnnxGraph;

  /** `name` is the graph's; `names` its input and output names (see OnnxGraph). */
  constructor(
    name: string,
    names: string[],
    protected readonly weights: ReadonlyMap<string, StoredTensor>,
  ) {
    this.g = new OnnxGraph(name, names);
  }

  /** A parameter's values as float32 (the network's state_dict check has vouched for its presence and shape). */
  protected param(key: string): Float32Array {
    const stored = this.weights.get(key);
    if (!stored) throw new Error(`internal: parameter ${key} was not checked`);
    return float32Values(stored);
  }

  /** The parameter `key` as an initializer of shape `dims`, stored as `type`. */
  protected weight(key: string, dims: number[], type: ElemType = 'float32'): string {
    return this.g.initializer(key, this.param(key), dims, type);
  }

  /** `x` (of element type `from`) as `to`; `x` itself when they are the same, so a float32 graph holds no Cast. */
  protected castTo(x: string, from: ElemType, to: ElemType, hint: string): string {
    return from === to ? x : this.g.cast(x, to, hint);
  }

  protected i64(values: number[]): string {
    return this.g.constant(values, 'int64');
  }

  /** SiLU(x) = x·σ(x); onnxruntime fuses the pair into one kernel. */
  protected silu(x: string, hint: string): string {
    return this.g.node('Mul', [x, this.g.node('Sigmoid', [x], {}, `${hint}/sigmoid`)], {}, `${hint}/silu`);
  }
}
