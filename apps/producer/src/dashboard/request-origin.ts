/**
 * Which requests come from the dashboard itself. Two attacks from pages in the same browser:
 * - DNS rebinding: a page on attacker.example whose name is made to resolve to 127.0.0.1 reads the
 *   dashboard as its own origin; it is refused because its Host header names attacker.example.
 *   Served: the names the dashboard was bound to (loopback: 127.0.0.1, localhost, ::1; a wildcard
 *   address: this machine's addresses and host name), plus each --allowed-host (a reverse proxy's name).
 * - Cross-origin requests (another port of 127.0.0.1 is another origin but the same site, so
 *   SameSite cookies do not stop it): a state-changing request needs Sec-Fetch-Site: same-origin
 *   or an Origin equal to the dashboard's; a browser sends at least one of them with every such
 *   request, and a page cannot forge either.
 */
import { hostname, networkInterfaces } from 'node:os';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1'];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** A Host header or URL host without its port and IPv6 brackets, lower case. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.includes(host) || /^127\./.test(host);
}

export class RequestOrigin {
  private readonly hosts: Set<string>;
  private readonly proxyHosts: Set<string>;

  constructor(boundHost: string, allowedHosts: readonly string[] = []) {
    const bound = boundHost.replace(/^\[|\]$/g, '').toLowerCase();
    const names = new Set<string>([bound]);
    if (isLoopback(bound) || WILDCARD_HOSTS.has(bound)) for (const n of LOOPBACK_NAMES) names.add(n);
    if (WILDCARD_HOSTS.has(bound)) {
      names.add(hostname().toLowerCase());
      for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) names.add(a.address.toLowerCase());
    }
    this.proxyHosts = new Set(allowedHosts.map((h) => hostnameOf(h) ?? h.toLowerCase()));
    for (const h of this.proxyHosts) names.add(h);
    this.hosts = names;
  }

  /** The names served, for the refusal's message. */
  get served(): string[] {
    return [...this.hosts].sort();
  }

  /** Whether a request with this Host header is for this dashboard. */
  hostAllowed(host: string | undefined): boolean {
    const name = host === undefined ? undefined : hostnameOf(host);
    return name !== undefined && this.hosts.has(name);
  }

  /**
   * 'cross-origin' when a browser says the request comes from another origin, 'same-origin' when
   * it says it comes from the dashboard, 'unknown' when it says nothing (not a browser).
   */
  classify(headers: { host?: string; origin?: string; secFetchSite?: string }): 'same-origin' | 'cross-origin' | 'unknown' {
    if (headers.secFetchSite !== undefined) return headers.secFetchSite === 'same-origin' ? 'same-origin' : 'cross-origin';
    if (headers.origin === undefined) return 'unknown';
    let origin: URL;
    try {
      origin = new URL(headers.origin);
    } catch {
      return 'cross-origin';
    }
    // Behind a reverse proxy the Host may be rewritten; the proxy's public name is trusted as given.
    if (origin.host === headers.host || this.proxyHosts.has(origin.hostname.replace(/^\[|\]$/g, '').toLowerCase())) return 'same-origin';
    return 'cross-origin';
  }
}
