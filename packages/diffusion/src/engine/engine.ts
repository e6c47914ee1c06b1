/**
 * What the samplers need of a network: one forward pass. Every engine (tfjs, onnx) takes and returns
 * the PyTorch layout, so the samplers, the golden cases and per-seed noise never see a backend's layout.
 */
import type * as tf from '@tensorflow/tfjs';

export interface DenoiserEngine {
  /** `tfjs` or `onnx`. */
  readonly name: string;
  /** Human-readable: backend or execution provider in use, e.g. "tfjs wasm", "onnxruntime cpu". */
  readonly description: string;
  /**
   * What runs the forward passes: the onnx execution provider that loaded (a fallback's, not the one
   * asked for) or the tfjs backend, e.g. "cuda", "cpu", "wasm"; shards and report.json record it.
   */
  readonly provider: string;
  /**
   * x: [N, C, H, W] float32; timesteps: [N] float32, exactly what the network receives
   * (timestep_map[t], times 1000/steps when rescale_timesteps); y: [N] int32 labels for a
   * class-conditional model. Returns the network output [N, out_channels, H, W].
   * The caller owns (and disposes) the returned tensor; inputs are not disposed.
   */
  forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D>;
  dispose(): void;
}
