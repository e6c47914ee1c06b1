/**
 * One golden case directory (test/golden/cases/README.md): case.json plus tensors.safetensors,
 * loaded as plain typed arrays so that any engine can be checked against it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type StoredTensor } from '@diffq/networks';
import type { Tolerance } from './compare.ts';

export interface CaseJson {
  kind: string;
  name: string;
  description?: string;
  diffusion?: Record<string, unknown> & { derived?: Record<string, unknown> };
  model?: Record<string, unknown> & { derived?: Record<string, unknown> };
  classifier?: Record<string, unknown>;
  sampler?: Record<string, unknown>;
  tolerance: Tolerance & { per_tensor?: Record<string, Partial<Tolerance>> };
  inputs: string[];
  outputs: string[];
  [field: string]: unknown;
}

export interface GoldenCase {
  dir: string;
  json: CaseJson;
  tensors: Map<string, StoredTensor>;
  /** A tensor of the file by name; throws naming the case when it is absent. */
  tensor(name: string): StoredTensor;
  /** Every tensor whose name starts with `prefix.`, keyed without the prefix (network weights). */
  weights(prefix: 'model' | 'classifier' | 'vae'): Map<string, StoredTensor>;
}

export function loadCase(dir: string): GoldenCase {
  const json = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseJson;
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(dir, 'tensors.safetensors'))));
  return {
    dir,
    json,
    tensors,
    tensor(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`case ${json.name}: no tensor "${name}"`);
      return t;
    },
    weights(prefix) {
      const out = new Map<string, StoredTensor>();
      for (const [k, v] of tensors) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
      return out;
    },
  };
}

/** What a kind runner returns: one array per output name, flattened in the reference's C order. */
export type Outputs = Record<string, ArrayLike<number> | BigInt64Array>;

export interface RunContext {
  /** `tfjs` or `onnx`: which engine runs the networks. */
  engine: string;
}

export type KindRunner = (c: GoldenCase, ctx: RunContext) => Promise<Outputs>;

export class NotImplemented extends Error {
  override name = 'NotImplemented';
}
