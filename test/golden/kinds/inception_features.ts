/**
 * inception_features: pytorch-fid's FID Inception network with the case's seeded weights (the
 * README's weight rule), every output in both preprocessing modes. The feature network runs on
 * onnxruntime only (docs/feature-networks.md), so both `--engine` runs check the onnx graph.
 */
import { INCEPTION_PREPROCESS_MODES, inceptionRuleWeights, preprocessInception } from '@diffq/networks';
import { buildInceptionOnnx, InceptionOnnxNetwork } from '@diffq/onnx';
import type { KindRunner, Outputs } from '../case.ts';

export const run: KindRunner = async (c) => {
  const images = c.tensor('images');
  const shape = images.shape as [number, number, number, number];
  const pixels = Uint8Array.from(images.data as BigInt64Array, Number);
  const weights = inceptionRuleWeights(c.json.weight_seed as number);
  const network = await InceptionOnnxNetwork.create(buildInceptionOnnx(weights, `case ${c.json.name} weight rule`), {
    preprocess: 'pytorch-fid',
  });
  try {
    const outputs: Outputs = {};
    for (const mode of INCEPTION_PREPROCESS_MODES) {
      const out = await network.runPreprocessed(preprocessInception(pixels, shape, mode), shape[0]);
      const suffix = mode === 'tf1' ? '_tf1' : '';
      for (const [name, values] of Object.entries(out)) outputs[`${name}${suffix}`] = values;
    }
    return outputs;
  } finally {
    network.dispose();
  }
};
