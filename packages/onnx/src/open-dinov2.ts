/**
 * The FD_DINOv2 network (dinov2-graph.ts) as a FeatureNetwork on onnxruntime-node: images go in as
 * their bytes with the resize matrices of their size, computed once per size.
 */
import { type Dinov2Config, dinov2Info, type FeatureNetwork } from '@diffq/networks';
import { dinov2ResizeInputs } from './dinov2-graph.ts';
import type { OnnxEngineOptions } from './onnx-engine.ts';
import { type OnnxFeatureGraph, OnnxFeatureNetwork } from './onnx-feature-network.ts';

/**
 * Images per session run: a full-size ViT-L/14 holds ~10 MB of activations per 224×224 image at a time
 * (16 heads of 257×257 attention weights, the 257×4096 MLP), so 16 stay well under 200 MB.
 */
export const DINOV2_MAX_BATCH = 16;

/** The OnnxFeatureGraph of a built DINOv2 graph (bytes or a file path). */
export function dinov2FeatureGraph(config: Dinov2Config, model: Uint8Array | string): OnnxFeatureGraph {
  const resizes = new Map<string, ReturnType<typeof dinov2ResizeInputs>>();
  return {
    info: dinov2Info(config),
    model,
    outputs: { features: 'features' },
    input: (images, [n, h, w, c]) => {
      const key = `${h}x${w}`;
      let more = resizes.get(key);
      if (!more) {
        more = dinov2ResizeInputs(h, w);
        resizes.set(key, more);
      }
      return { data: Float32Array.from(images), dims: [n, h, w, c], more };
    },
    chunk: DINOV2_MAX_BATCH,
  };
}

/** Opens a session on a built DINOv2 graph; `note` (where the graph came from) joins the description. */
export function openDinov2Network(
  config: Dinov2Config,
  model: Uint8Array | string,
  options: OnnxEngineOptions & { note?: string } = {},
): Promise<FeatureNetwork> {
  return OnnxFeatureNetwork.create(dinov2FeatureGraph(config, model), options);
}
