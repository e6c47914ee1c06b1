/** Invalid command-line input: one sentence per problem, each naming the flag. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`);
  }
}
