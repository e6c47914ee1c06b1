/**
 * dinov2_features: edm2's FD_DINOv2 detector (preprocessing + dinov2's ViT) with the case's tiny
 * random weights, through the same FeatureNetwork a run uses. The network runs on onnxruntime only
 * (docs/feature-networks.md), so both `--engine` runs check the onnx graph.
 */
import { parseDinov2Config } from '@diffq/networks';
import { buildDinov2Onnx, openDinov2Network } from '@diffq/onnx';
import type { GoldenCase, KindRunner } from '../case.ts';

/** The case's network as a FeatureNetwork (its model.json `model` object from the case's settings). */
export async function openCaseDinov2(c: GoldenCase) {
  const m = c.json.model as Record<string, unknown>;
  const config = parseDinov2Config({ hub_model: m.hub_model, embed_dim: m.embed_dim, depth: m.depth, num_heads: m.num_heads });
  if (config.registers !== m.registers) {
    throw new Error(`case ${c.json.name}: ${m.hub_model} has ${config.registers} registers, the case ${m.registers}`);
  }
  return openDinov2Network(config, buildDinov2Onnx(config, c.weights('model'), `case ${c.json.name} weights`));
}

/** uint8 NHWC pixels and their shape from an I64 image tensor. */
export function caseImages(c: GoldenCase, name: string): { pixels: Uint8Array; shape: [number, number, number, number] } {
  const t = c.tensor(name);
  return { pixels: Uint8Array.from(t.data as BigInt64Array, Number), shape: t.shape as [number, number, number, number] };
}

export const run: KindRunner = async (c) => {
  const network = await openCaseDinov2(c);
  try {
    const { pixels, shape } = caseImages(c, 'images');
    return { features: (await network.extract(pixels, shape)).features };
  } finally {
    network.dispose();
  }
};
