/** Turns a zod error into one sentence per problem that names the field path and what is accepted. */
import type { ZodError } from 'zod';

export function formatZodError(error: ZodError, root: string): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path].filter((p) => p !== '').join('.');
      const received = 'received' in issue ? ` (got ${JSON.stringify(issue.received)})` : '';
      return `${path}: ${issue.message}${received}`;
    })
    .join('; ');
}
