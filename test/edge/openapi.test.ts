import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { api, type ErrorBody } from "./client.ts";

let edge: EdgeHandle;

beforeAll(async () => {
  edge = await startEdge();
});
afterAll(async () => {
  await edge?.stop();
  if (edge) await rm(edge.persistDir, { recursive: true, force: true });
});

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
}

describe("API surface", () => {
  it("serves an OpenAPI document generated from the routes", async () => {
    const res = await api<OpenApiDocument>(edge, "GET", "/v1/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\.1/);
    const routes = Object.entries(res.body.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.sort()).toEqual(
      [
        "GET /v1/limits",
        "POST /v1/accounts",
        "POST /v1/auth/login",
        "GET /v1/account",
        "POST /v1/account/totp",
        "POST /v1/account/totp/verify",
        "DELETE /v1/account/totp",
        "POST /v1/domains",
        "GET /v1/domains",
        "GET /v1/domains/{domain}",
        "DELETE /v1/domains/{domain}",
        "POST /v1/domains/{domain}/aliases",
        "GET /v1/domains/{domain}/aliases",
        "GET /v1/domains/{domain}/aliases/{alias}",
        "PATCH /v1/domains/{domain}/aliases/{alias}",
        "DELETE /v1/domains/{domain}/aliases/{alias}",
        "POST /v1/domains/{domain}/aliases/{alias}/passwords",
        "GET /v1/domains/{domain}/aliases/{alias}/passwords",
        "DELETE /v1/domains/{domain}/aliases/{alias}/passwords/{id}",
        "POST /v1/admin/nodes",
        "GET /v1/admin/nodes",
        "DELETE /v1/admin/nodes/{id}",
        "POST /v1/admin/directory/credentials",
        "POST /v1/admin/directory/route",
      ].sort(),
    );
    expect(Object.keys(res.body.components.securitySchemes).sort()).toEqual(["accountToken", "adminToken"]);
    expect(res.body.paths["/v1/domains"].get.security).toEqual([{ accountToken: [] }]);
    expect(res.body.paths["/v1/domains"].post.responses).toHaveProperty("409");
    expect(res.body.components.schemas).toHaveProperty("Error");
  });

  it("reports the limits it enforces", async () => {
    const res = await api<Record<string, number>>(edge, "GET", "/v1/limits");
    expect(res.status).toBe(200);
    expect(res.body.passwordsPerAlias).toBeGreaterThan(0);
    expect(res.body.loginMaxFailures).toBeGreaterThan(0);
  });

  it("answers unknown routes with 404 in the error shape", async () => {
    for (const path of ["/nope", "/v1/nope", "/v1/accounts/extra/path"]) {
      const res = await api<ErrorBody>(edge, "GET", path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: "not-found", message: "No such route" } });
    }
  });

  it("answers malformed JSON (400) and a wrong content type (415) in the error shape", async () => {
    const malformed = await api<ErrorBody>(edge, "POST", "/v1/accounts", { rawBody: '{"email":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("bad-request");
    const notJson = await api<ErrorBody>(edge, "POST", "/v1/accounts", {
      rawBody: "email=a@b.example",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(notJson.status).toBe(415);
    expect(notJson.body.error.code).toBe("unsupported-media-type");
    const noType = await api<ErrorBody>(edge, "POST", "/v1/accounts", { rawBody: "{}", headers: { "content-type": "" } });
    expect([400, 415]).toContain(noType.status);
    expect(noType.body.error).toBeDefined();
  });
});
