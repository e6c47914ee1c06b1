/**
 * Who may change state through the dashboard (bull-board's retry/delete/clean, cancelling a run):
 * only a request carrying the token given with --token / DIFFQ_DASHBOARD_TOKEN, either as
 * `Authorization: Bearer <token>` (scripts) or as the session cookie /login sets (the browser, so
 * that bull-board's own requests carry it). Without a token nothing may change. Secrets are
 * compared as SHA-256 digests with timingSafeEqual: constant time whatever their length.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'diffq_dashboard_session';
export const MIN_TOKEN_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Equal strings, in time independent of where they differ and of their lengths. */
export function sameSecret(candidate: string, secret: string): boolean {
  return timingSafeEqual(digest(candidate), digest(secret));
}

/** Throws, naming the flag and the accepted range (never the value), unless the token is long enough to resist guessing. */
export function checkToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  if (token.length < MIN_TOKEN_LENGTH)
    throw new Error(
      `--token (or DIFFQ_DASHBOARD_TOKEN) is ${token.length} characters; accepted: at least ${MIN_TOKEN_LENGTH}, e.g. from openssl rand -hex 16`,
    );
  return token;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

export class ActionGuard {
  private readonly session: string | undefined;

  constructor(private readonly token: string | undefined) {
    // The cookie holds a value derived from the token, never the token itself.
    this.session = token === undefined ? undefined : createHmac('sha256', token).update('diffq dashboard session').digest('hex');
  }

  /** Whether actions exist at all (a token was given). */
  get enabled(): boolean {
    return this.token !== undefined;
  }

  /** Whether `candidate` is the token (for /login). */
  isToken(candidate: string): boolean {
    return this.token !== undefined && sameSecret(candidate, this.token);
  }

  /** The Set-Cookie value of a signed-in browser. */
  sessionCookie(): string {
    if (this.session === undefined) throw new Error('no --token: actions are disabled');
    return `${SESSION_COOKIE}=${this.session}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /** Whether a request with these headers may change state. */
  allows(headers: { authorization?: string; cookie?: string }): boolean {
    if (this.token === undefined || this.session === undefined) return false;
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '')?.[1];
    const cookie = cookieValue(headers.cookie, SESSION_COOKIE);
    // Both are compared, whichever is present, so the time taken does not tell which one was tried.
    const byBearer = sameSecret(bearer ?? '', this.token);
    const byCookie = sameSecret(cookie ?? '', this.session);
    return (bearer !== undefined && byBearer) || (cookie !== undefined && byCookie);
  }
}
