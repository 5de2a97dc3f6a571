import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env.ts";

/** The HTTP API. Placeholder: the account API is built here. */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.get("/healthz", (c) => c.json({ ok: true }));
  return app;
}
