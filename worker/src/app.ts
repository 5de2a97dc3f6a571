/**
 * The HTTP API of the edge (`/v1/...`). `index.ts` (the tunnel's entry point) calls
 * `createApp()` and mounts the tunnel endpoint on it.
 *
 * Invariants:
 * - Every answer that is not a success is `{ "error": { "code", "message" } }` (errors.ts),
 *   including validation failures (validation-hook.ts) and unknown routes.
 * - The OpenAPI document at /v1/openapi.json is generated from the route definitions.
 * - Handlers are thin: logic lives in plain functions that take their bindings as arguments.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";
import { handleError, handleNotFound } from "./errors.ts";
import { createAccountsApp } from "./accounts/routes.ts";
import { createAliasesApp } from "./aliases/routes.ts";
import { createDomainsApp } from "./domains/routes.ts";
import { createAdminApp } from "./admin/routes.ts";
import { createMetaApp } from "./meta/routes.ts";
import { createApiApp } from "./openapi.ts";

export function createApp(): OpenAPIHono<AppEnv> {
  const app = createApiApp();
  app.onError(handleError);
  app.notFound(handleNotFound);
  app.get("/healthz", (c) => c.json({ ok: true }));

  app.route("/v1", createMetaApp());
  app.route("/v1", createAccountsApp());
  app.route("/v1/domains", createDomainsApp());
  app.route("/v1/domains", createAliasesApp());
  app.route("/v1/admin", createAdminApp());

  app.openAPIRegistry.registerComponent("securitySchemes", "accountToken", {
    type: "http",
    scheme: "bearer",
    description: "API token from POST /v1/accounts or POST /v1/auth/login",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "Operator token (ADMIN_TOKEN)",
  });
  app.doc31("/v1/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Sealbox edge API", version: "1" },
  });
  return app;
}
