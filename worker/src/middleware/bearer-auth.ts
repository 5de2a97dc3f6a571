/**
 * Bearer-token authentication for account routes (RFC 6750 §2.1).
 *
 * Invariants:
 * - The token is never stored or logged; the verifier receives it and returns the account id
 *   (the edge's verifier looks up SHA-256(token), see accounts/api-tokens.ts).
 * - A missing, malformed or unknown token answers 401 `unauthorized` with
 *   `WWW-Authenticate: Bearer` (RFC 6750 §3), and the same message for every cause.
 * - On success the account id is in `c.var.accountId`; nothing else about the token is kept.
 */
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

/** The credential of an `Authorization: Bearer <credential>` header, or null. */
export function bearerCredential(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match ? match[1] : null;
}

export interface BearerAuthOptions<E extends { Variables: { accountId: string } }> {
  /** Resolves a presented token to its account id, or null when it is not valid. */
  verify: (token: string, c: Context<E>) => Promise<string | null>;
}

export function bearerAuth<E extends { Variables: { accountId: string } }>(
  options: BearerAuthOptions<E>,
): MiddlewareHandler<E> {
  return async function bearerAuthMiddleware(c, next) {
    const token = bearerCredential(c.req.header("authorization"));
    const accountId = token === null ? null : await options.verify(token, c);
    if (accountId === null) {
      c.header("WWW-Authenticate", 'Bearer realm="sealbox"');
      throw new ApiError(401, "unauthorized", "Missing or invalid API token");
    }
    c.set("accountId", accountId);
    await next();
  };
}
