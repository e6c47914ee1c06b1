/** The check every FeatureNetwork makes of its input before running: uint8 NHWC images it can read. */
import type { FeatureNetworkInfo } from './feature-network.ts';

/** Throws naming the shape, the value and what the network accepts. */
export function checkFeatureImages(info: FeatureNetworkInfo, images: Uint8Array, shape: readonly [number, number, number, number]): void {
  const [n, h, w, c] = shape;
  const net = `feature network ${info.architecture}`;
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${net}: image shape is [${shape}]; accepted: [N, H, W, C] (uint8 NHWC)`);
  }
  if (images.length !== n * h * w * c) {
    throw new Error(`${net}: images hold ${images.length} bytes; shape [${shape}] needs ${n * h * w * c}`);
  }
  if (!info.channels.includes(c)) throw new Error(`${net}: images have ${c} channels; accepted: ${info.channels.join(' or ')}`);
  if (info.imageSize !== null && (h !== info.imageSize || w !== info.imageSize)) {
    throw new Error(`${net}: images are ${h}×${w}; accepted: ${info.imageSize}×${info.imageSize}`);
  }
}
