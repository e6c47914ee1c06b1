/**
 * The demo's sampler: the fewest steps whose FID on the shipped model, at the demo's guidance and
 * sample count, is within the run-to-run spread of DDIM-50's (docs/samplers.md#the-demos-sampler:
 * `npm run bench -- solvers --samples 100 --seed-sets 5 --configs …`). x̂₀ is clipped, as the launch
 * does by default for a pixel model.
 */
export const DEMO_SAMPLER = { sampler: 'dpm++2m', steps: 10 } as const;
