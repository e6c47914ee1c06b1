/**
 * Invalid command-line input (`diffq`, `diffq-worker`, `diffq-train`): one sentence per problem,
 * each naming the flag, the value and what is accepted. The CLIs exit with code 2 on it.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`);
  }
}
