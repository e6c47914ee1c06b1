const t0 = performance.now();
if (process.argv[2] === 'tsx') { const { register } = await import('tsx/esm/api'); register(); }
const t1 = performance.now();
for (const m of ['yargs', 'bullmq', 'zod']) { const s = performance.now(); await import(m); console.log(m.padEnd(10), (performance.now() - s).toFixed(0)); }
console.log('register', (t1-t0).toFixed(0), 'total', (performance.now() - t0).toFixed(0), 'uptime', (process.uptime()*1000).toFixed(0));
