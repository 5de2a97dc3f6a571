import { rm } from "node:fs/promises";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64 } from "../../shared/crypto/encoding.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { api, createAccount, uniqueDomain, type ErrorBody } from "./client.ts";

interface NodeBody {
  id: string;
  label: string;
  publicKey: string;
  createdAt: string;
  lastSeenAt: string | null;
}

let edge: EdgeHandle;

beforeAll(async () => {
  edge = await startEdge();
});
afterAll(async () => {
  await edge?.stop();
  if (edge) await rm(edge.persistDir, { recursive: true, force: true });
});

function newKey(): string {
  return toBase64(ed25519.keygen().publicKey);
}

describe("admin: node registry", () => {
  it("registers, lists and deletes a node", async () => {
    const publicKey = newKey();
    const created = await api<{ id: string }>(edge, "POST", "/v1/admin/nodes", { token: edge.adminToken, body: { label: "fra-1", publicKey } });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^node_[0-9a-f]{32}$/);

    const listed = await api<{ nodes: NodeBody[] }>(edge, "GET", "/v1/admin/nodes", { token: edge.adminToken });
    expect(listed.status).toBe(200);
    expect(listed.body.nodes).toContainEqual(expect.objectContaining({ id: created.body.id, label: "fra-1", publicKey, lastSeenAt: null }));

    expect((await api(edge, "DELETE", `/v1/admin/nodes/${created.body.id}`, { token: edge.adminToken })).status).toBe(204);
    const again = await api<ErrorBody>(edge, "DELETE", `/v1/admin/nodes/${created.body.id}`, { token: edge.adminToken });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("node-not-found");
  });

  it("rejects public keys that are not base64 Ed25519 points, and bad labels", async () => {
    const bad = [
      { label: "x", publicKey: "not base64!" },
      { label: "x", publicKey: toBase64(new Uint8Array(31)) },
      { label: "x", publicKey: toBase64(new Uint8Array(32).fill(7)) },
      { label: "x", publicKey: toBase64(ed25519.keygen().publicKey).replace(/=$/, "") },
    ];
    for (const body of bad) {
      const res = await api<ErrorBody>(edge, "POST", "/v1/admin/nodes", { token: edge.adminToken, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid-public-key");
    }
    const longId = await api<ErrorBody>(edge, "DELETE", `/v1/admin/nodes/${"n".repeat(65)}`, { token: edge.adminToken });
    expect(longId.status).toBe(400);
    const badLookup = await api<ErrorBody>(edge, "POST", "/v1/admin/directory/credentials", { token: edge.adminToken, body: { address: "a@b.example" } });
    expect(badLookup.status).toBe(400);
    for (const body of [{ label: "", publicKey: newKey() }, { label: "x".repeat(65), publicKey: newKey() }, { publicKey: newKey() }]) {
      const res = await api<ErrorBody>(edge, "POST", "/v1/admin/nodes", { token: edge.adminToken, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid-request");
    }
  });

  it("answers 401 to every admin route without the admin token, with a wrong one, or with an account token", async () => {
    const account = await createAccount(edge);
    for (const token of [undefined, "wrong", `${edge.adminToken}x`, account.apiToken]) {
      const results = await Promise.all([
        api<ErrorBody>(edge, "POST", "/v1/admin/nodes", { token, body: { label: "x", publicKey: newKey() } }),
        api<ErrorBody>(edge, "GET", "/v1/admin/nodes", { token }),
        api<ErrorBody>(edge, "DELETE", "/v1/admin/nodes/node_x", { token }),
        api<ErrorBody>(edge, "POST", "/v1/admin/directory/credentials", { token, body: { address: "a@b.example", nodeId: "n" } }),
        api<ErrorBody>(edge, "POST", "/v1/admin/directory/route", { token, body: { address: "a@b.example" } }),
      ]);
      for (const res of results) {
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe("unauthorized");
      }
    }
    const listed = await api<{ nodes: NodeBody[] }>(edge, "GET", "/v1/admin/nodes", { token: edge.adminToken });
    expect(listed.body.nodes.map((n) => n.label)).not.toContain("x");
  });

  it("refuses to delete a node that is home to a mailbox", async () => {
    const node = (await api<{ id: string }>(edge, "POST", "/v1/admin/nodes", { token: edge.adminToken, body: { label: "home", publicKey: newKey() } })).body.id;
    const account = await createAccount(edge);
    const domain = uniqueDomain();
    await api(edge, "POST", "/v1/domains", { token: account.apiToken, body: { name: domain } });
    await api(edge, "POST", `/v1/domains/${domain}/aliases`, { token: account.apiToken, body: { localPart: "me" } });
    await api(edge, "POST", `/v1/domains/${domain}/aliases/me/passwords`, { token: account.apiToken, body: { label: "x" } });
    const placed = await api<{ homeNode: string }>(edge, "POST", "/v1/admin/directory/credentials", {
      token: edge.adminToken,
      body: { address: `me@${domain}`, nodeId: node },
    });
    expect(placed.body.homeNode).toBe(node);

    const refused = await api<ErrorBody>(edge, "DELETE", `/v1/admin/nodes/${node}`, { token: edge.adminToken });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("node-in-use");
  });

  it("places an unplaced mailbox on exactly one of several nodes asking at once", async () => {
    const nodes = await Promise.all(
      ["race-a", "race-b", "race-c"].map(async (label) => (await api<{ id: string }>(edge, "POST", "/v1/admin/nodes", { token: edge.adminToken, body: { label, publicKey: newKey() } })).body.id),
    );
    const account = await createAccount(edge);
    const domain = uniqueDomain();
    await api(edge, "POST", "/v1/domains", { token: account.apiToken, body: { name: domain } });
    await api(edge, "POST", `/v1/domains/${domain}/aliases`, { token: account.apiToken, body: { localPart: "race" } });
    await api(edge, "POST", `/v1/domains/${domain}/aliases/race/passwords`, { token: account.apiToken, body: { label: "x" } });
    // Concurrent requests to the worker: each look-up tries to claim the unplaced mailbox for its node.
    const answers = await Promise.all(
      nodes.map((nodeId) => api<{ homeNode: string }>(edge, "POST", "/v1/admin/directory/credentials", { token: edge.adminToken, body: { address: `race@${domain}`, nodeId } })),
    );
    const homes = new Set(answers.map((answer) => answer.body.homeNode));
    expect(homes.size).toBe(1);
    expect(nodes).toContain([...homes][0]);
    const route = await api<{ homeNode: string }>(edge, "POST", "/v1/admin/directory/route", { token: edge.adminToken, body: { address: `race@${domain}` } });
    expect(route.body.homeNode).toBe([...homes][0]);
  });

  it("answers 404 for addresses the directory does not know, including malformed ones", async () => {
    for (const address of ["nobody@nowhere.example", "no-at-sign", "a@b"]) {
      const res = await api<ErrorBody>(edge, "POST", "/v1/admin/directory/route", { token: edge.adminToken, body: { address } });
      expect(res.status).toBe(404);
    }
  });
});
