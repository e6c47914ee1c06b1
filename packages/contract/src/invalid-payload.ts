/**
 * The one error the contract throws: a value crossing a boundary (CLI flags, a manifest, a job
 * payload, a shard's metadata) does not satisfy its schema. It can never succeed on retry, so a
 * worker fails the job at once with this message instead of retrying it.
 */
export class InvalidPayload extends Error {
  override readonly name = 'InvalidPayload';

  /**
   * what: the thing that was checked ("run spec", "shard job", "seeds", …);
   * problems: one sentence per problem, each naming the field, the value and what is accepted.
   */
  constructor(
    readonly what: string,
    readonly problems: readonly string[],
  ) {
    super(problems.length === 1 ? `Invalid ${what}: ${problems[0]}` : `Invalid ${what}:\n- ${problems.join('\n- ')}`);
  }
}
