/**
 * frechet: the Fréchet distance between (mu1, sigma1) and (mu2, sigma2), float64. On the onnx engine
 * its big product runs on onnxruntime's Fréchet kernel (packages/onnx), as the finalizer runs it.
 */
import { frechetDistance, frechetDistanceWith } from '@diffq/metrics';
import type { KindRunner } from '../case.ts';

export const run: KindRunner = async (c, ctx) => {
  const stats = (i: 1 | 2) => ({
    mu: Float64Array.from(c.tensor(`mu${i}`).data, Number),
    sigma: Float64Array.from(c.tensor(`sigma${i}`).data, Number),
  });
  if (ctx.engine !== 'onnx') return { distance: [frechetDistance(stats(1), stats(2))] };
  const { openFrechetKernel } = await import('@diffq/onnx/frechet-kernel');
  const kernel = await openFrechetKernel();
  if (kernel.fallback) throw new Error(`the onnxruntime Fréchet kernel did not open: ${kernel.fallback}`);
  return { distance: [await frechetDistanceWith(kernel, stats(1), stats(2))] };
};
