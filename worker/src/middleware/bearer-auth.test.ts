import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { handleError } from "../errors.ts";
import { bearerAuth, bearerCredential } from "./bearer-auth.ts";

interface TestEnv {
  Variables: { accountId: string };
}

function appWith(tokens: Record<string, string>) {
  const seen: string[] = [];
  const app = new Hono<TestEnv>();
  app.onError(handleError);
  app.use(
    "*",
    bearerAuth<TestEnv>({
      verify: async (token) => {
        seen.push(token);
        return tokens[token] ?? null;
      },
    }),
  );
  app.get("/me", (c) => c.json({ accountId: c.var.accountId }));
  return { app, seen };
}

describe("bearerCredential", () => {
  it("extracts the credential of a Bearer header, case-insensitively on the scheme", () => {
    expect(bearerCredential("Bearer abc.def")).toBe("abc.def");
    expect(bearerCredential("bearer abc")).toBe("abc");
  });
  it("refuses other schemes, empty and malformed credentials", () => {
    expect(bearerCredential(undefined)).toBeNull();
    expect(bearerCredential("Basic dXNlcjpwYXNz")).toBeNull();
    expect(bearerCredential("Bearer")).toBeNull();
    expect(bearerCredential("Bearer ")).toBeNull();
    expect(bearerCredential("Bearer a b")).toBeNull();
    expect(bearerCredential("Bearer tök")).toBeNull();
  });
});

describe("bearerAuth", () => {
  it("passes a valid token and exposes the account id", async () => {
    const { app } = appWith({ good: "acc_1" });
    const res = await app.request("/me", { headers: { authorization: "Bearer good" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accountId: "acc_1" });
  });

  it("answers 401 in the error shape with WWW-Authenticate for a missing header, without calling verify", async () => {
    const { app, seen } = appWith({ good: "acc_1" });
    const res = await app.request("/me");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message: "Missing or invalid API token" } });
    expect(seen).toEqual([]);
  });

  it("answers the same 401 for an unknown token and for a malformed header", async () => {
    const { app } = appWith({ good: "acc_1" });
    const unknown = await app.request("/me", { headers: { authorization: "Bearer bad" } });
    const malformed = await app.request("/me", { headers: { authorization: "Token good" } });
    expect(unknown.status).toBe(401);
    expect(malformed.status).toBe(401);
    expect(await unknown.json()).toEqual(await malformed.json());
  });
});
