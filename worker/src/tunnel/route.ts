import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";

export function mountTunnel(app: OpenAPIHono<AppEnv>): void {
  void app;
}
