/** frechet: the Fréchet distance between (mu1, sigma1) and (mu2, sigma2), float64. */
import { frechetDistance } from '@diffq/diffusion';
import type { KindRunner } from '../case.ts';

export const run: KindRunner = async (c) => {
  const stats = (i: 1 | 2) => ({
    mu: Float64Array.from(c.tensor(`mu${i}`).data, Number),
    sigma: Float64Array.from(c.tensor(`sigma${i}`).data, Number),
  });
  return { distance: [frechetDistance(stats(1), stats(2))] };
};
