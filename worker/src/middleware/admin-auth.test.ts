import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { handleError } from "../errors.ts";
import { adminAuth } from "./admin-auth.ts";

function appWith(adminToken: string | undefined) {
  const app = new Hono();
  app.onError(handleError);
  app.use("*", adminAuth({ adminToken: () => adminToken }));
  app.get("/admin", (c) => c.json({ ok: true }));
  return app;
}

const unauthorized = { error: { code: "unauthorized", message: "Missing or invalid admin token" } };

describe("adminAuth", () => {
  it("passes the configured token", async () => {
    const res = await appWith("s3cret-admin").request("/admin", { headers: { authorization: "Bearer s3cret-admin" } });
    expect(res.status).toBe(200);
  });

  it("refuses a missing, wrong, prefix or longer token with the same 401", async () => {
    const app = appWith("s3cret-admin");
    for (const header of [undefined, "Bearer wrong", "Bearer s3cret", "Bearer s3cret-admin2", "Basic s3cret-admin"]) {
      const res = await app.request("/admin", { headers: header === undefined ? {} : { authorization: header } });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(unauthorized);
    }
  });

  it("refuses everything when no token is configured, even an empty bearer", async () => {
    for (const configured of [undefined, ""]) {
      const res = await appWith(configured).request("/admin", { headers: { authorization: "Bearer " } });
      expect(res.status).toBe(401);
      const res2 = await appWith(configured).request("/admin", { headers: { authorization: "Bearer anything" } });
      expect(res2.status).toBe(401);
    }
  });
});
