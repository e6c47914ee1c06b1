/**
 * The tensors a sampler holds across `await`s (x, the history of x̂_0, one evaluation's outputs).
 * Per-step arithmetic runs inside tf.tidy; what must outlive it is held here, released as soon as the
 * sampler is done with it, and disposed all at once if the sampler fails half-way.
 */
import type * as tf from '@tensorflow/tfjs';

export class LiveTensors {
  readonly #held = new Set<tf.Tensor>();

  hold<T extends tf.Tensor>(t: T): T {
    this.#held.add(t);
    return t;
  }

  /** Disposes the given tensors (undefined entries are skipped). */
  release(...tensors: (tf.Tensor | undefined)[]): void {
    for (const t of tensors) {
      if (!t) continue;
      this.#held.delete(t);
      t.dispose();
    }
  }

  /** Hands a tensor over to the caller: it is no longer disposed here. */
  disown<T extends tf.Tensor>(t: T): T {
    this.#held.delete(t);
    return t;
  }

  disposeAll(): void {
    for (const t of this.#held) t.dispose();
    this.#held.clear();
  }
}
