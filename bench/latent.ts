/**
 * `npm run bench -- latent`: the two networks of a latent model at full size with generated weights,
 * each against an equivalent PyTorch model on Debian's torch in the same run (bench/latent-dit.ts,
 * bench/latent-decoder.ts), one line per network:
 * `latent: <dit-xl/2|sd-decoder> batch <B>: diffq <ms> ms, PyTorch <ms> ms, <r>× PyTorch`.
 * The decoder bench also prints the peak RSS of its process while decoding with the decoder the
 * worker opens (openDecoder): what a worker's decode phase adds at that decode batch.
 * Heavy (DiT-XL/2 in float32): run it under `flock /tmp/diffq-heavy.lock` on a shared machine.
 */
import { benchDecoder } from './latent-decoder.ts';
import { benchDiT } from './latent-dit.ts';

export async function benchLatent(): Promise<void> {
  const lines = [await benchDiT(), await benchDecoder()];
  for (const line of lines) console.log(line);
}
