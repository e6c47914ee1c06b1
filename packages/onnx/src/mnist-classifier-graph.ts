/**
 * The MNIST feature network (packages/networks/src/mnist-classifier/mnist-classifier.ts) as an ONNX graph,
 * weights as initializers.
 *
 * Graph input: `x` [N, H, W, C] float32, the pixel bytes 0…255 as stored (NHWC); the graph scales
 * them to the network's input space (k/127.5 − 1) and transposes to NCHW itself.
 * Outputs: `features` [N, hidden] (the hidden layer after its ReLU) and `logits` [N, classes].
 */
import {
  checkStateDict,
  float32Values,
  MNIST_CLASSIFIER_INPUT,
  type MnistClassifierConfig,
  mnistClassifierParamSpecs,
  type StoredTensor,
} from '@diffq/networks';
import { OnnxGraph } from './onnx-graph.ts';

export const MNIST_CLASSIFIER_OPSET = 17;

export function buildMnistClassifierOnnx(c: MnistClassifierConfig, weights: ReadonlyMap<string, StoredTensor>): Uint8Array {
  checkStateDict(mnistClassifierParamSpecs(c), weights, 'MNIST classifier weights');
  const g = new OnnxGraph('mnist_classifier', ['x', 'features', 'logits']);
  const param = (key: string, dims: number[]) => g.initializer(key, float32Values(weights.get(key)!), dims);
  const x = g.input('x', 'float32', ['N', c.imageSize, c.imageSize, c.inChannels]);
  const scaled = g.node('Add', [
    g.node('Mul', [x, g.constant([MNIST_CLASSIFIER_INPUT.scale], 'float32', [])]),
    g.constant([MNIST_CLASSIFIER_INPUT.offset], 'float32', []),
  ]);
  let h = g.node('Transpose', [scaled], { perm: [0, 3, 1, 2] }, 'nchw');
  let ch = c.inChannels;
  c.stageChannels.forEach((out, s) => {
    for (let j = 0; j < c.convsPerStage; j++) {
      const key = `stages.${s}.${j}`;
      const conv = g.node(
        'Conv',
        [h, param(`${key}.weight`, [out, ch, 3, 3]), param(`${key}.bias`, [out])],
        { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
        key,
      );
      h = g.node('Relu', [conv], {}, `${key}/relu`);
      ch = out;
    }
    h = g.node('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] }, `stages.${s}/pool`);
  });
  const flat = g.node('Flatten', [h], { axis: 1 });
  // Gemm with transB reads the PyTorch [out, in] weights as they are stored.
  const fc = g.node('Gemm', [flat, param('fc.weight', weights.get('fc.weight')!.shape), param('fc.bias', [c.hidden])], { transB: 1 }, 'fc');
  const features = g.node('Relu', [fc], {}, 'fc/relu');
  const logits = g.node(
    'Gemm',
    [features, param('out.weight', [c.numClasses, c.hidden]), param('out.bias', [c.numClasses])],
    { transB: 1 },
    'out',
  );
  g.output(features, 'features', 'float32', ['N', c.hidden]);
  g.output(logits, 'logits', 'float32', ['N', c.numClasses]);
  return g.toModel(MNIST_CLASSIFIER_OPSET, 'diffq mnist-classifier');
}
