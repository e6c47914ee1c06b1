import { inceptionRuleWeights, preprocessInception } from '@diffq/diffusion';
import { buildInceptionOnnx, InceptionOnnxNetwork, setMerge } from '@diffq/onnx';
const w = inceptionRuleWeights(1000);
setMerge(false); const a = await InceptionOnnxNetwork.create(buildInceptionOnnx(w), { preprocess: 'pytorch-fid' });
setMerge(true); const b = await InceptionOnnxNetwork.create(buildInceptionOnnx(w), { preprocess: 'pytorch-fid' });
const n = 8;
const imgs = new Uint8Array(n * 32 * 32 * 3).map((_, i) => (i * 37) % 256);
const x = preprocessInception(imgs, [n, 32, 32, 3], 'pytorch-fid');
const ra = await a.runPreprocessed(x, n); const rb = await b.runPreprocessed(x, n);
let num = 0, den = 0; for (let i = 0; i < ra.pool3.length; i++) { num += (ra.pool3[i] - rb.pool3[i]) ** 2; den += ra.pool3[i] ** 2; }
let num2 = 0, den2 = 0; for (let i = 0; i < ra.spatial_2023.length; i++) { num2 += (ra.spatial_2023[i] - rb.spatial_2023[i]) ** 2; den2 += ra.spatial_2023[i] ** 2; }
console.log('rel diff pool3', Math.sqrt(num / den), 'spatial', Math.sqrt(num2/den2));
const cpu = { a: 0, b: 0 };
for (let r = 0; r < 4; r++) for (const [k, net] of [['a', a], ['b', b]] as const) {
  const c0 = process.cpuUsage(); await net.runPreprocessed(x, n); const c = process.cpuUsage(c0); cpu[k] += (c.user + c.system) / 1e6;
}
console.log('cpu-s per image: plain', (cpu.a / 32).toFixed(3), 'merged', (cpu.b / 32).toFixed(3));
a.dispose(); b.dispose();
