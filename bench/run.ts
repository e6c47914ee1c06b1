/**
 * `npm run bench [-- <name> …]`: runs the named benchmarks (all when none is named). Each prints
 * figures measured side by side in the same run, so ratios are comparable whatever the machine.
 */
const BENCHES: Record<string, () => Promise<void>> = {
  unet: async () => (await import('./unet.ts')).benchUnet(),
  engines: async () => (await import('./engines.ts')).benchEngines(),
  stats: async () => (await import('./stats.ts')).benchStats(),
};

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; accepted: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  console.log(`== bench ${name}`);
  await BENCHES[name]();
}
