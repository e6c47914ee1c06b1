/** The diffq CLI as the device bundle runs it: no bin/ wrapper, no tsx, nothing to resolve at run time. */
import { main } from '@diffq/producer';

process.exitCode = await main(process.argv.slice(2));
