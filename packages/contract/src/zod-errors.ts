/**
 * Zod problems as sentences: "<field path> <what is accepted> (got <value>)." Every message in the
 * contract's schemas is written as such a predicate ("must be an integer from 1 to 65536"), and
 * `predicateErrorMap` phrases zod's built-in checks the same way, so a user reads one sentence
 * per problem that names the field, the value and the accepted range.
 */
import type { ZodError, ZodErrorMap, ZodIssue, ZodSchema } from 'zod';
import { InvalidPayload } from './invalid-payload.ts';

/** Zod's built-in checks, phrased as what the field must be. Messages set in a schema take precedence. */
export const predicateErrorMap: ZodErrorMap = (issue, ctx) => {
  switch (issue.code) {
    case 'invalid_type':
      return {
        message: issue.received === 'undefined' ? `is required (${article(issue.expected)})` : `must be ${article(issue.expected)}`,
      };
    case 'invalid_enum_value':
      return { message: `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}` };
    case 'invalid_union_discriminator':
      return { message: `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}` };
    case 'unrecognized_keys':
      return {
        message: `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; check the spelling`,
      };
    case 'too_small':
      if (issue.type === 'number') return { message: `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}` };
      if (issue.type === 'array') return { message: `must hold at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}` };
      if (issue.type === 'string')
        return { message: issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters` };
      break;
    case 'too_big':
      if (issue.type === 'number') return { message: `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}` };
      if (issue.type === 'array') return { message: `must hold at most ${issue.maximum} items` };
      if (issue.type === 'string') return { message: `must be at most ${issue.maximum} characters` };
      break;
    case 'invalid_string':
      if (issue.validation === 'datetime') return { message: 'must be an ISO 8601 UTC time such as "2025-01-31T12:00:00.000Z"' };
      break;
  }
  return { message: ctx.defaultError };
};

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** One sentence per problem; `input` is what was parsed, used to quote the offending value. */
export function zodProblems(error: ZodError, input: unknown, root: string): string[] {
  return error.issues.map((issue) => describeIssue(issue, input, root));
}

function describeIssue(issue: ZodIssue, input: unknown, root: string): string {
  const path =
    issue.path.length === 0 ? root : issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  const value = valueAt(input, issue.path);
  const got = value === undefined || issue.code === 'unrecognized_keys' ? '' : ` (got ${quote(value)})`;
  return `${path} ${issue.message}${got}.`;
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let value = input;
  for (const p of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[p];
  }
  return value;
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Parses `input` with `schema`, or throws InvalidPayload naming `what` with one sentence per problem. */
export function parseWith<S extends ZodSchema>(schema: S, input: unknown, what: string): S['_output'] {
  const result = schema.safeParse(input, { errorMap: predicateErrorMap });
  if (!result.success) throw new InvalidPayload(what, zodProblems(result.error, input, what));
  return result.data;
}
