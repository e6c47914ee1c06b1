/**
 * What the dashboard must never show: the Redis password of --redis and the S3 credentials of the
 * environment. Pages and APIs are built from data that holds none of them; as
 * a second wall, every response body passes through `scrub`, which replaces any that slipped in
 * (an error message quoting a URL, a job's failedReason) before it leaves the process.
 */

/** Environment variables whose values are credentials (the AWS SDK's and diffq's own). */
export const SECRET_ENV_VARS = ['AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SESSION_TOKEN', 'DIFFQ_DASHBOARD_TOKEN'] as const;

/** Shorter strings are not scrubbed: replacing every "a" in a page would help nobody. */
const MIN_SECRET_LENGTH = 4;

/** A URL without its user and password: `redis://***@host:6379/0`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/**
 * The credentials in a Redis URL and the environment, each also as it reads inside a JSON string,
 * longest first (so a secret containing another is replaced whole).
 */
export function secretsOf(redisUrl: string, env: NodeJS.ProcessEnv = process.env, extra: readonly string[] = []): string[] {
  const raw = new Set<string>(extra);
  try {
    const { password } = new URL(redisUrl);
    if (password) {
      raw.add(password);
      raw.add(decodeURIComponent(password));
    }
  } catch {
    // checkRedisUrl has refused a URL that does not parse before the dashboard starts.
  }
  for (const name of SECRET_ENV_VARS) if (env[name]) raw.add(env[name] as string);
  const found = new Set<string>();
  for (const secret of raw) {
    found.add(secret);
    found.add(JSON.stringify(secret).slice(1, -1));
  }
  return [...found].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}
