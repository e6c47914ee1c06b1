/**
 * The queue a model is served on, `sample.<model id>`, is named after its weights: the default id
 * is derived from the sha256 of weights.safetensors, so a producer and a worker that read the same
 * weights agree on the queue wherever the files live (`--model-id` overrides it on both sides).
 */

/** `model-<first 12 hex digits of the weights' sha256>`. */
export function defaultModelId(digest: string): string {
  return `model-${digest.slice(0, 12)}`;
}
