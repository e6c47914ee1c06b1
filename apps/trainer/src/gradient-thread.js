// Worker-thread entry: the thread runs TypeScript through tsx like the rest of diffq.
import { register } from 'tsx/esm/api';

register();
await import('./gradient-thread.ts');
