// The bundle `npm run build:cli` wrote to dist/, when every source it was built from is unchanged
// since; otherwise undefined, and diffq runs from its TypeScript sources (a stale bundle never runs).
import { readFileSync, statSync } from 'node:fs';

/** The URL of dist/cli.js, or undefined when there is no bundle or a source changed after it was built. */
export function freshBuild(dist) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('inputs.json', dist), 'utf8'));
  } catch {
    return undefined;
  }
  for (const input of manifest.inputs) {
    try {
      if (statSync(input).mtimeMs > manifest.builtAt) return undefined;
    } catch {
      return undefined;
    }
  }
  return new URL('cli.js', dist).href;
}
