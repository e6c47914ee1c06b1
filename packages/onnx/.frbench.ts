import { featureStats, seedNormals } from '@diffq/diffusion';
import * as ort from 'onnxruntime-node';
import { pivotedCholesky, permuteSymmetric } from '../diffusion/src/stats/pivoted-cholesky.ts';
import { congruence } from '../diffusion/src/stats/congruence.ts';
import { ortCongruence } from './src/ort-congruence.ts';
const DIM = Number(process.argv[2] ?? 2048), rows = DIM + 400;
const features = (seed: number) => {
  const x = seedNormals(seed, 0, rows * DIM);
  for (let i = 0; i < rows; i++) for (let j = 1; j < DIM; j++) x[i * DIM + j] = 0.5 * x[i * DIM + j - 1] + x[i * DIM + j] * (1 + j / DIM);
  return featureStats(x, DIM);
};
const a = features(2), b = features(3);
async function t<T>(name: string, f: () => T | Promise<T>): Promise<T> { const c = process.cpuUsage(); const w = performance.now(); const r = await f(); const u = process.cpuUsage(c); console.log(name, ((performance.now() - w) / 1000).toFixed(2), 's wall', ((u.user + u.system) / 1e6).toFixed(2), 's cpu'); return r; }
const f = pivotedCholesky(b.sigma, DIM);
const p = permuteSymmetric(a.sigma, DIM, f.permutation);
const c1 = await t('js congruence', () => congruence(f.factorRows, p, DIM, f.rank));
const k = ortCongruence(ort, 2);
await k(f.factorRows, p, DIM, f.rank);
const c2 = await t('ort congruence', () => k(f.factorRows, p, DIM, f.rank));
let err = 0, sc = 0; for (let i = 0; i < c1.length; i++) { err = Math.max(err, Math.abs(c1[i] - c2[i])); sc = Math.max(sc, Math.abs(c1[i])); }
console.log('rank', f.rank, 'maxrel', err / sc);
