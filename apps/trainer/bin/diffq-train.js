#!/usr/bin/env node
// diffq-train runs from TypeScript source through tsx, as every diffq package does.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
