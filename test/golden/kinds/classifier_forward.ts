/** classifier_forward: EncoderUNetModel logits and the classifier-guidance gradient cond_grad. */

import { classifierGradient, classifierLogits, createClassifier, parseClassifierConfig } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { floatTensor, intTensor } from './unet_forward.ts';

export const run: KindRunner = async (c) => {
  const classifier = createClassifier(
    parseClassifierConfig(c.json.classifier),
    c.weights('classifier'),
    `case ${c.json.name} classifier.*`,
  );
  const scale = Number(c.json.sampler?.classifier_scale ?? 1);
  try {
    const [logits, condGrad] = tf.tidy(() => {
      const x = floatTensor(c.tensor('x')) as tf.Tensor4D;
      const t = floatTensor(c.tensor('timesteps')) as tf.Tensor1D;
      const y = intTensor(c.tensor('y')) as tf.Tensor1D;
      return [classifierLogits(classifier, x, t), classifierGradient(classifier, x, t, y, scale)];
    });
    const out = { logits: (await logits.data()) as Float32Array, cond_grad: (await condGrad.data()) as Float32Array };
    tf.dispose([logits, condGrad]);
    return out;
  } finally {
    classifier.dispose();
  }
};
