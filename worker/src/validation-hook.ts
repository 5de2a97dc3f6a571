/**
 * Turns zod validation failures of `@hono/zod-openapi` routes into the API's error shape:
 * 400 `invalid-request` naming the offending fields (paths and zod's issue text, never the
 * values, which may be secrets).
 */
import type { Hook } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { errorBody } from "./errors.ts";

interface IssueLike {
  path: PropertyKey[];
  message: string;
}

/** "body.forwardTo.0: Invalid email address; …" — field paths and rule text only. */
export function describeIssues(target: string, issues: readonly IssueLike[]): string {
  const parts = issues.slice(0, 5).map((issue) => {
    const path = [target, ...issue.path.map(String)].join(".");
    return `${path}: ${issue.message}`;
  });
  return parts.join("; ");
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the hook is generic over every route's schema
export const validationHook: Hook<any, AppEnv, any, any> = (result, c) => {
  if (result.success) return;
  const target = result.target === "json" ? "body" : result.target;
  return c.json(errorBody("invalid-request", describeIssues(target, result.error.issues)), 400);
};
