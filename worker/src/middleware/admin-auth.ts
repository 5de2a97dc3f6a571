/**
 * Operator authorisation for /v1/admin/*: `Authorization: Bearer <ADMIN_TOKEN>`.
 *
 * Invariants:
 * - The token is compared in constant time (over SHA-256 digests, so the comparison does not
 *   even depend on the configured token's length).
 * - With no ADMIN_TOKEN configured every admin request is refused: there is no default token.
 * - Failures answer 401 `unauthorized` without saying which part was wrong.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { Context, Env, MiddlewareHandler } from "hono";
import { constantTimeEqual, utf8 } from "../../../shared/crypto/encoding.ts";
import { ApiError } from "../errors.ts";
import { bearerCredential } from "./bearer-auth.ts";

export interface AdminAuthOptions<E extends Env> {
  /** The configured operator token, or undefined when none is set. */
  adminToken: (c: Context<E>) => string | undefined;
}

export function adminAuth<E extends Env>(options: AdminAuthOptions<E>): MiddlewareHandler<E> {
  return async function adminAuthMiddleware(c, next) {
    const expected = options.adminToken(c);
    const presented = bearerCredential(c.req.header("authorization"));
    const ok =
      expected !== undefined &&
      expected !== "" &&
      presented !== null &&
      constantTimeEqual(sha256(utf8(presented)), sha256(utf8(expected)));
    if (!ok) {
      c.header("WWW-Authenticate", 'Bearer realm="sealbox-admin"');
      throw new ApiError(401, "unauthorized", "Missing or invalid admin token");
    }
    await next();
  };
}
