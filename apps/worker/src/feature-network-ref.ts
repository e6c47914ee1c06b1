/**
 * Opens the feature network a manifest names (statistics.features): fetched by URI, refused when its
 * weights changed since launch, and opened with the launch's preprocessing. The shard jobs use it
 * for the samples' features, the finalizer for a reference batch's images.
 */
import type { FeatureNetwork, InceptionPreprocess } from '@diffq/networks';
import { openFeatureNetwork, type ProviderChoice } from '@diffq/onnx';
import { fetchModel } from '@diffq/storage';

/** A file or directory the run depends on, pinned by sha256. */
export interface PinnedRef {
  uri: string;
  digest: string;
}

/** A feature network as the manifest names it: pinned by digest, with the preprocessing the run was launched with. */
export interface FeatureNetworkRef extends PinnedRef {
  architecture: string;
  preprocess: string;
}

export async function openFeatureNetworkRef(
  ref: FeatureNetworkRef,
  options: { threads?: number; provider?: ProviderChoice } = {},
): Promise<FeatureNetwork> {
  const source = await fetchModel(ref.uri, '--features');
  if (source.digest !== ref.digest) {
    throw new Error(`feature network ${ref.uri} has weights sha256 ${source.digest}; the run was launched with ${ref.digest}`);
  }
  // Inception's preprocessing is pinned to the launch's, whatever model.json says now.
  const preprocess = ref.architecture === 'fid-inception-v3' ? (ref.preprocess as InceptionPreprocess) : undefined;
  return openFeatureNetwork(source.dir, { threads: options.threads, provider: options.provider, preprocess });
}
