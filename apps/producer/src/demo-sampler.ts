/**
 * The demo's sampler: the fewest steps whose FID on the shipped model, at the demo's guidance and
 * sample count, is within the run-to-run spread of DDIM-50's, with the demo's own FID and accuracy
 * no worse than DDIM-50's (docs/samplers.md#the-demos-sampler: DDIM-10, x̂₀ clipped as the launch does
 * by default for a pixel model; DPM-Solver++(2M) and UniPC at 10 steps are as fast and within the
 * spread, but a little worse on the demo's seeds).
 */
export const DEMO_SAMPLER = { sampler: 'ddim', steps: 10 } as const;
