/**
 * A DiT state_dict of deterministic random parameters, for fixtures and benchmarks. DiT zero-initialises
 * every adaLN modulation and the final layer (adaLN-Zero), which would make every block the identity
 * and the output exactly 0; here every parameter is random (randomStateDict) so that each one matters,
 * except `pos_embed`, which is the fixed sin-cos table every DiT checkpoint holds.
 */
import { randomStateDict } from '../adm/random-weights.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import type { DiTConfig } from './dit-config.ts';
import { ditParameterShapes, planDiT } from './dit-plan.ts';
import { ditPosEmbed } from './dit-pos-embed.ts';

export function randomDiTWeights(config: DiTConfig, seed: number): Map<string, StoredTensor> {
  const weights = randomStateDict(ditParameterShapes(config), seed);
  const { numPatches, gridSize } = planDiT(config);
  weights.set('pos_embed', { dtype: 'F32', shape: [1, numPatches, config.hidden_size], data: ditPosEmbed(config.hidden_size, gridSize) });
  return weights;
}
