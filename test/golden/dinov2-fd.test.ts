/**
 * FD_DINOv2 end to end on the golden case dinov2_features_32px_n4: its two informational image sets
 * through the case's network (the FeatureNetwork a run uses), float64 moments as a run accumulates
 * them (edm2's raw sums, ddof 1) and diffq's Fréchet distance, against the value edm2's own code gave
 * (`diagnostics.fd_end_to_end`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { accumulateMoments, emptyMoments, frechetDistance, momentsToStats } from '@diffq/metrics';
import { loadCase } from './case.ts';
import { caseImages, openCaseDinov2 } from './kinds/dinov2_features.ts';

const c = loadCase(join(import.meta.dirname, 'cases', 'dinov2_features_32px_n4'));

describe('FD_DINOv2 of the golden end-to-end image sets', () => {
  it('equals edm2’s value to 1e-6', async () => {
    const network = await openCaseDinov2(c);
    try {
      const statsOf = async (name: string) => {
        const { pixels, shape } = caseImages(c, name);
        const { features } = await network.extract(pixels, shape);
        const moments = accumulateMoments(emptyMoments(network.info.featureDim), features);
        return { ...momentsToStats(moments), samples: shape[0] };
      };
      const fd = frechetDistance(await statsOf('e2e_images_a'), await statsOf('e2e_images_b'));
      const edm2 = (c.json.diagnostics as { fd_end_to_end: { fd_dinov2: number } }).fd_end_to_end.fd_dinov2;
      assert.ok(Math.abs(fd - edm2) <= 1e-6 * edm2, `FD_DINOv2 ${fd}, edm2 ${edm2}`);
    } finally {
      network.dispose();
    }
  });
});
