/**
 * Tokens with scopes, and the per-client rate limit.
 *
 * A request presents `Authorization: Bearer <token>` or the seed's `token: <token>` header. Tokens
 * are compared as SHA-256 digests with `crypto.timingSafeEqual` (equal lengths always), against
 * every configured token, so the time taken says nothing about how much of a token matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type Scope = 'read' | 'write';
export const SCOPES: readonly Scope[] = ['read', 'write'];

interface TokenEntry {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class TokenError extends Error {}

/**
 * Parses a tokens file: one token per line, `<token> <scope>[,<scope>]` (scope `read`, `write`;
 * none = both); `#` comments and blank lines are skipped. Throws TokenError naming the line.
 */
export function parseTokensFile(text: string, file = 'tokens file'): { token: string; scopes: Scope[] }[] {
  const out: { token: string; scopes: Scope[] }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const [token, scopeText, ...rest] = line.split(/\s+/);
    if (rest.length > 0) throw new TokenError(`${file}:${i + 1}: expected "<token> <scopes>"`);
    const scopes = (scopeText ?? 'read,write').split(',').map((s) => s.trim().toLowerCase());
    for (const s of scopes)
      if (!(SCOPES as readonly string[]).includes(s))
        throw new TokenError(`${file}:${i + 1}: unknown scope "${s}" (read, write)`);
    if (token.length < 8) throw new TokenError(`${file}:${i + 1}: token shorter than 8 characters`);
    out.push({ token, scopes: scopes as Scope[] });
  }
  return out;
}

export class Authenticator {
  private readonly entries: TokenEntry[] = [];

  constructor(tokens: { token: string; scopes: readonly Scope[] }[]) {
    for (const t of tokens)
      if (t.token !== '') this.entries.push({ digest: digest(t.token), scopes: new Set(t.scopes) });
  }

  /** From `hades-auth` (read + write) and a tokens file. */
  static fromConfig(hadesAuth: string, tokensFile: string): Authenticator {
    const tokens: { token: string; scopes: Scope[] }[] = [];
    if (hadesAuth !== '') tokens.push({ token: hadesAuth, scopes: ['read', 'write'] });
    if (tokensFile !== '') tokens.push(...parseTokensFile(readFileSync(tokensFile, 'utf8'), tokensFile));
    return new Authenticator(tokens);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The scopes of a presented token, or undefined when it matches none. Constant time per entry. */
  scopesOf(presented: string): ReadonlySet<Scope> | undefined {
    const d = digest(presented);
    let found: ReadonlySet<Scope> | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && found === undefined) found = e.scopes;
    return found;
  }
}

/** The token of a request: `Authorization: Bearer x` first, then the seed's `token: x`. */
export function presentedToken(headers: { [k: string]: string | string[] | undefined }): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const t = headers.token;
  if (typeof t === 'string' && t.trim() !== '') return t.trim();
  return undefined;
}

/** Token buckets per client IP: `rate` per second, up to `burst` at once. `rate` 0: no limit. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True when the request may go ahead; else the seconds until it may (for Retry-After). */
  take(client: string): true | number {
    if (this.rate <= 0) return true;
    const t = this.now();
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size >= 100_000) this.prune(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    if (this.buckets.size >= 100_000) this.buckets.clear();
  }
}
