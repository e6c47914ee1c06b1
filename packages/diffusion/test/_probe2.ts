import { initBackend } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import { portableEmbedding } from '../src/training/portable-ops.ts';
await initBackend();
const table = tf.randomNormal([5, 3]) as tf.Tensor2D;
const ids = tf.tensor1d([1, 1, 4], 'int32');
try {
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(portableEmbedding(t as tf.Tensor2D, ids), tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))))(table);
  g.print();
} catch (e) { console.log('ERR', (e as Error).stack?.split('\n').slice(0, 8).join('\n')); }
