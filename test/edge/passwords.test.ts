import { rm } from "node:fs/promises";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64, toBase64, utf8 } from "../../shared/crypto/encoding.ts";
import { unwrapMailboxKey } from "../../shared/crypto/mailbox-key.ts";
import { isGeneratedPassword, PASSWORD_ENTROPY_BITS } from "../../shared/crypto/password.ts";
import { openSealed, seal, unwrapSealingSecret } from "../../shared/crypto/sealing.ts";
import type { CredentialRecordData } from "../../shared/tunnel/records.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { api, createAccount, fetchLimits, type ApiLimits, uniqueDomain, type ErrorBody, type TestAccount } from "./client.ts";

interface CreatedPassword {
  id: string;
  label: string;
  password: string;
  createdAt: string;
  newMailbox: boolean;
}

let edge: EdgeHandle;
let limits: ApiLimits;
let alice: TestAccount;
let domain: string;
let nodeA: string;
let nodeB: string;

async function registerNode(label: string): Promise<string> {
  const res = await api<{ id: string }>(edge, "POST", "/v1/admin/nodes", {
    token: edge.adminToken,
    body: { label, publicKey: toBase64(ed25519.keygen().publicKey) },
  });
  return res.body.id;
}

beforeAll(async () => {
  edge = await startEdge();
  limits = await fetchLimits(edge);
  alice = await createAccount(edge, "alice");
  domain = uniqueDomain();
  await api(edge, "POST", "/v1/domains", { token: alice.apiToken, body: { name: domain } });
  nodeA = await registerNode("a");
  nodeB = await registerNode("b");
});
afterAll(async () => {
  await edge?.stop();
  if (edge) await rm(edge.persistDir, { recursive: true, force: true });
});

async function newAlias(localPart: string): Promise<string> {
  const res = await api(edge, "POST", `/v1/domains/${domain}/aliases`, { token: alice.apiToken, body: { localPart } });
  expect(res.status).toBe(201);
  return `/v1/domains/${domain}/aliases/${localPart}/passwords`;
}

async function makePassword(path: string, body: unknown) {
  return api<CreatedPassword & ErrorBody>(edge, "POST", path, { token: alice.apiToken, body });
}

async function credentials(address: string, nodeId = nodeA) {
  return api<CredentialRecordData & ErrorBody>(edge, "POST", "/v1/admin/directory/credentials", {
    token: edge.adminToken,
    body: { address, nodeId },
  });
}

describe("alias passwords", () => {
  it("the first password creates MK and the sealing key pair; the wrapped MK in D1 unwraps with it", async () => {
    const path = await newAlias("first");
    const address = `first@${domain}`;
    // No password yet: no credential record, and the MX sees no mailbox or sealing key.
    expect((await credentials(address)).status).toBe(404);

    const created = await makePassword(path, { label: "laptop" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ label: "laptop", newMailbox: true });
    expect(isGeneratedPassword(created.body.password)).toBe(true);
    expect(PASSWORD_ENTROPY_BITS).toBeGreaterThanOrEqual(128);

    const record = await credentials(address);
    expect(record.status).toBe(200);
    expect(record.body.passwords).toHaveLength(1);
    expect(record.body.passwords[0].id).toBe(created.body.id);
    const mk = unwrapMailboxKey(record.body.passwords[0], created.body.password);
    expect(mk).not.toBeNull();
    expect(mk).toHaveLength(32);
    expect(unwrapMailboxKey(record.body.passwords[0], "wrong-password")).toBeNull();

    // The sealing secret unwraps with MK and opens what is sealed to the published public key.
    const secret = unwrapSealingSecret(record.body.sealingSecretWrapped, mk!);
    const sealed = seal(fromBase64(record.body.sealingPublicKey), utf8("queued mail"));
    expect(new TextDecoder().decode(openSealed(secret, sealed))).toBe("queued mail");

    // The record never contains the password itself.
    expect(JSON.stringify(record.body)).not.toContain(created.body.password);
  });

  it("places the mailbox on the first node that asks, and keeps it there", async () => {
    const path = await newAlias("placed");
    await makePassword(path, { label: "phone" });
    const first = await credentials(`placed@${domain}`, nodeB);
    expect(first.body.homeNode).toBe(nodeB);
    const second = await credentials(`placed@${domain}`, nodeA);
    expect(second.body.homeNode).toBe(nodeB);
    const unknownNode = await newAlias("unplaced");
    await makePassword(unknownNode, { label: "x" });
    expect((await credentials(`unplaced@${domain}`, "node_unregistered")).body.homeNode).toBeNull();
  });

  it("a further password needs an existing one: missing → 400, wrong → 403, right → same MK", async () => {
    const path = await newAlias("further");
    const first = await makePassword(path, { label: "one" });

    const missing = await makePassword(path, { label: "two" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe("existing-password-required");

    const wrong = await makePassword(path, { label: "two", existingPassword: "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg" });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe("existing-password-invalid");
    expect(wrong.body.error.message).not.toContain("aaaa");

    const second = await makePassword(path, { label: "two", existingPassword: first.body.password });
    expect(second.status).toBe(201);
    expect(second.body.newMailbox).toBe(false);
    expect(second.body.password).not.toBe(first.body.password);

    const record = (await credentials(`further@${domain}`)).body;
    expect(record.passwords.map((p) => p.id)).toEqual([first.body.id, second.body.id]);
    const mk1 = unwrapMailboxKey(record.passwords[0], first.body.password)!;
    const mk2 = unwrapMailboxKey(record.passwords[1], second.body.password)!;
    expect(toBase64(mk2)).toBe(toBase64(mk1));
    // A password unwraps only its own record.
    expect(unwrapMailboxKey(record.passwords[1], first.body.password)).toBeNull();
  });

  it("lists id, label, created and last used, never a secret", async () => {
    const path = await newAlias("listed");
    const first = await makePassword(path, { label: "desk" });
    const listed = await api<{ passwords: Record<string, unknown>[] }>(edge, "GET", path, { token: alice.apiToken });
    expect(listed.status).toBe(200);
    expect(listed.body.passwords).toEqual([{ id: first.body.id, label: "desk", createdAt: first.body.createdAt, lastUsedAt: null }]);
  });

  it("revocation removes a password from the credential record and the list at once", async () => {
    const path = await newAlias("revoked");
    const first = await makePassword(path, { label: "one" });
    const second = await makePassword(path, { label: "two", existingPassword: first.body.password });

    expect((await api(edge, "DELETE", `${path}/${first.body.id}`, { token: alice.apiToken })).status).toBe(204);
    const record = (await credentials(`revoked@${domain}`)).body;
    expect(record.passwords.map((p) => p.id)).toEqual([second.body.id]);
    const listed = await api<{ passwords: { id: string }[] }>(edge, "GET", path, { token: alice.apiToken });
    expect(listed.body.passwords.map((p) => p.id)).toEqual([second.body.id]);

    // Revoked twice, or a made-up id: 404.
    const again = await api<ErrorBody>(edge, "DELETE", `${path}/${first.body.id}`, { token: alice.apiToken });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("password-not-found");
    // A revoked password can no longer vouch for a new one.
    const refused = await makePassword(path, { label: "three", existingPassword: first.body.password });
    expect(refused.status).toBe(403);
  });

  it("after every password is revoked, the next one starts a new mailbox (new id, new keys, unplaced)", async () => {
    const path = await newAlias("restart");
    const first = await makePassword(path, { label: "one" });
    const before = (await credentials(`restart@${domain}`, nodeA)).body;
    expect(before.homeNode).toBe(nodeA);
    await api(edge, "DELETE", `${path}/${first.body.id}`, { token: alice.apiToken });
    expect((await credentials(`restart@${domain}`)).body.passwords).toEqual([]);

    const fresh = await makePassword(path, { label: "new", existingPassword: first.body.password });
    expect(fresh.status).toBe(201);
    expect(fresh.body.newMailbox).toBe(true);
    const after = (await credentials(`restart@${domain}`, nodeB)).body;
    expect(after.mailboxId).not.toBe(before.mailboxId);
    expect(after.sealingPublicKey).not.toBe(before.sealingPublicKey);
    expect(after.generation).toBe(0);
    expect(after.homeNode).toBe(nodeB);
    expect(unwrapMailboxKey(after.passwords[0], fresh.body.password)).not.toBeNull();
  });

  it("limits an alias to the maximum number of active passwords", async () => {
    const path = await newAlias("many");
    const first = await makePassword(path, { label: "0" });
    for (let i = 1; i < limits.passwordsPerAlias; i++) {
      expect((await makePassword(path, { label: String(i), existingPassword: first.body.password })).status).toBe(201);
    }
    const over = await makePassword(path, { label: "over", existingPassword: first.body.password });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe("too-many-passwords");
  });

  it("validates the body with 400 and answers 401 without a valid token", async () => {
    const path = await newAlias("validated");
    for (const body of [{}, { label: "" }, { label: "x".repeat(65) }, { label: 5 }, { label: "ok", extra: true }]) {
      const res = await makePassword(path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid-request");
    }
    for (const token of [undefined, "sbx_" + "c".repeat(52)]) {
      for (const [method, suffix] of [["POST", ""], ["GET", ""], ["DELETE", "/pwd_x"]]) {
        const res = await api<ErrorBody>(edge, method, `${path}${suffix}`, { token, body: method === "POST" ? { label: "x" } : undefined });
        expect(res.status).toBe(401);
      }
    }
    expect((await api<{ passwords: unknown[] }>(edge, "GET", path, { token: alice.apiToken })).body.passwords).toEqual([]);
  });
});
