import { initBackend } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
await initBackend();
function time(name: string, f: () => tf.Tensor) { f().dispose(); const t0 = performance.now(); for (let i = 0; i < 5; i++) { const r = f(); r.dataSync(); r.dispose(); } console.log(name, ((performance.now() - t0) / 5).toFixed(1), 'ms'); }
const rows = 16 * 28 * 28;
const cols = tf.randomNormal([rows, 288]); const dy = tf.randomNormal([rows, 32]);
time('mm transposeA', () => tf.matMul(cols, dy, true, false));
const colsT = tf.transpose(cols);
time('mm plain (pre-transposed)', () => tf.matMul(colsT, dy));
time('transpose+mm', () => tf.tidy(() => tf.matMul(tf.transpose(cols), dy)));
time('mm dyT cols', () => tf.matMul(dy, cols, true, false));
const x = tf.randomNormal([16, 28, 28, 32]) as tf.Tensor4D; const w = tf.randomNormal([3, 3, 32, 32]) as tf.Tensor4D;
time('conv2d fwd', () => tf.conv2d(x, w, 1, 1));
const d = tf.randomNormal([16, 28, 28, 32]) as tf.Tensor4D;
time('conv2dTranspose (backprop input)', () => tf.conv2dTranspose(d, w, [16, 28, 28, 32], 1, 1));
time('dx via conv2d flipped', () => tf.tidy(() => tf.conv2d(d, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, 1)));
// filter grad via conv trick
time('dW via conv trick', () => tf.tidy(() => { const xp = tf.pad(x, [[0,0],[1,1],[1,1],[0,0]]); const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; const dt = tf.transpose(d, [1, 2, 0, 3]) as tf.Tensor4D; return tf.transpose(tf.conv2d(xt, dt, 1, 'valid'), [1, 2, 0, 3]); }));
