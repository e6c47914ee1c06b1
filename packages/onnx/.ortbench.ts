import { accumulateMoments, emptyMoments } from '@diffq/diffusion/statistics';
import { openMomentKernel } from './src/ort-moment-kernel.ts';
const d = 2048;
const x = new Float32Array(4096 * d).map(() => Math.random() * 2);
const js = accumulateMoments(emptyMoments(d), x.subarray(0, 256 * d));
for (const blocks of [1, 2, 4, 8]) {
  const k = await openMomentKernel({ blocks });
  const chk = await k.accumulate(emptyMoments(d), x.subarray(0, 256 * d));
  let err = 0; for (let i = 0; i < d * d; i++) err = Math.max(err, Math.abs(chk.sumOuter[i] - js.sumOuter[i]) / Math.abs(js.sumOuter[i]));
  for (const n of [256, 4096]) {
    const m = emptyMoments(d);
    await k.accumulate(m, x.subarray(0, n * d));
    const cpu = process.cpuUsage(); const t = performance.now();
    await k.accumulate(m, x.subarray(0, n * d));
    const wall = (performance.now() - t) / 1000; const u = process.cpuUsage(cpu);
    console.log('blocks', blocks, 'n', n, 'wall', wall.toFixed(3), 'cpu', ((u.user + u.system) / 1e6).toFixed(3), 'cpu per 50k', (((u.user + u.system) / 1e6) * 50000 / n).toFixed(1), 'maxrel vs js', err.toExponential(2));
  }
}
