/**
 * Building blocks for route definitions, so every route documents its body, its answers and
 * its error shape the same way, and every sub-app shares the validation hook.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { validationHook } from "./validation-hook.ts";

/** A sub-app with the API's validation hook (mount it with `app.route()`). */
export function createApiApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "not-found" }),
      message: z.string(),
    }),
  })
  .openapi("Error");

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request",
  401: "Missing or invalid credentials",
  403: "Refused",
  404: "Not found",
  409: "Conflict",
  429: "Too many attempts",
};

/** Documented error answers for the given statuses. */
export function errorResponses<S extends 400 | 401 | 403 | 404 | 409 | 429>(
  ...statuses: S[]
): Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> {
  const out = {} as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
  for (const status of statuses) {
    out[status] = { description: ERROR_DESCRIPTIONS[status], content: { "application/json": { schema: ErrorSchema } } };
  }
  return out;
}

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } } as const;
}

/** A JSON answer. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/** Bearer security requirement for account routes. */
export const accountSecurity = [{ accountToken: [] as string[] }];
/** Bearer security requirement for operator routes. */
export const adminSecurity = [{ adminToken: [] as string[] }];
