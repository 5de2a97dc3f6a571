/**
 * The directory functions the tunnel calls, run in-process against a real local D1 (workerd via
 * wrangler's getPlatformProxy), with data made by the same plain functions the routes use.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getPlatformProxy } from "wrangler";
import { toBase64 } from "../../shared/crypto/encoding.ts";
import { unwrapMailboxKey } from "../../shared/crypto/mailbox-key.ts";
import { createAccount } from "../../worker/src/accounts/accounts.ts";
import { createAlias, updateAlias } from "../../worker/src/aliases/aliases.ts";
import { createAliasPassword, listAliasPasswords, revokeAliasPassword } from "../../worker/src/aliases/passwords.ts";
import {
  getNodePublicKey,
  lookupCredentials,
  resolveAlias,
  touchNodeSeen,
  touchPasswordUsed,
} from "../../worker/src/directory.ts";
import { claimDomain } from "../../worker/src/domains/domains.ts";
import { listNodes, registerNode } from "../../worker/src/nodes/nodes.ts";
import { applyMigrations } from "../support/edge.ts";

type Db = Parameters<typeof lookupCredentials>[0];

let dir: string;
let proxy: Awaited<ReturnType<typeof getPlatformProxy<{ DB: Db }>>>;
let db: Db;
let accountId: string;
let nodeA: string;
let nodeB: string;
const domain = "directory.example";
const urlOptions = { allowLoopback: false };

beforeAll(async () => {
  process.env.WRANGLER_LOG = "error";
  dir = await mkdtemp(join(tmpdir(), "sealbox-directory-"));
  await applyMigrations(dir);
  proxy = await getPlatformProxy<{ DB: Db }>({
    configPath: new URL("../../wrangler.toml", import.meta.url).pathname,
    envFiles: [],
    persist: { path: join(dir, "v3") },
    remoteBindings: false,
  });
  db = proxy.env.DB;
  accountId = (await createAccount(db, { email: "directory-owner@example.org" })).accountId;
  await claimDomain(db, accountId, domain);
  nodeA = (await registerNode(db, { label: "a", publicKey: toBase64(ed25519.keygen().publicKey) })).id;
  nodeB = (await registerNode(db, { label: "b", publicKey: toBase64(ed25519.keygen().publicKey) })).id;
});
afterAll(async () => {
  await proxy?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("directory", () => {
  it("returns no credential record for unknown, malformed or password-less addresses", async () => {
    await createAlias(db, accountId, domain, { localPart: "empty" }, urlOptions);
    for (const address of [`nobody@${domain}`, "not-an-address", `empty@${domain}`, `a@b@${domain}`]) {
      expect(await lookupCredentials(db, address, nodeA)).toBeNull();
    }
    // The password-less alias was not placed by the look-up.
    expect((await resolveAlias(db, `empty@${domain}`))?.homeNode).toBeNull();
  });

  it("matches addresses case-insensitively and returns the canonical address", async () => {
    await createAlias(db, accountId, domain, { localPart: "mixed" }, urlOptions);
    const { password } = await createAliasPassword(db, accountId, domain, "mixed", { label: "x" });
    const record = await lookupCredentials(db, `MiXeD@${domain.toUpperCase()}`, nodeA);
    expect(record?.address).toBe(`mixed@${domain}`);
    expect(unwrapMailboxKey(record!.passwords[0], password.password)).not.toBeNull();
  });

  it("keeps the first placement: a later look-up from another node gets the same home node", async () => {
    // The race itself (concurrent look-ups) is tested against the running worker in admin.test.ts;
    // this proxy serialises calls, so here the compare-and-set is checked in order.
    await createAlias(db, accountId, domain, { localPart: "race" }, urlOptions);
    await createAliasPassword(db, accountId, domain, "race", { label: "x" });
    const a = await lookupCredentials(db, `race@${domain}`, nodeA);
    const b = await lookupCredentials(db, `race@${domain}`, nodeB);
    expect(a?.homeNode).toBe(nodeA);
    expect(b?.homeNode).toBe(nodeA);
    expect((await resolveAlias(db, `race@${domain}`))?.homeNode).toBe(nodeA);
  });

  it("leaves out revoked passwords", async () => {
    await createAlias(db, accountId, domain, { localPart: "rev" }, urlOptions);
    const first = await createAliasPassword(db, accountId, domain, "rev", { label: "1" });
    const second = await createAliasPassword(db, accountId, domain, "rev", { label: "2", existingPassword: first.password.password });
    await revokeAliasPassword(db, accountId, domain, "rev", first.password.id);
    const record = await lookupCredentials(db, `rev@${domain}`, nodeA);
    expect(record?.passwords.map((p) => p.id)).toEqual([second.password.id]);
  });

  it("resolves routes with forwards, webhooks and the sealing key", async () => {
    await createAlias(db, accountId, domain, { localPart: "route", forwardTo: ["out@elsewhere.example"] }, urlOptions);
    const updated = await updateAlias(db, accountId, domain, "route", { webhooks: [{ url: "https://hooks.example.net/x" }] }, urlOptions);
    const before = await resolveAlias(db, `route@${domain}`);
    expect(before).toMatchObject({
      address: `route@${domain}`,
      mailboxId: null,
      sealingPublicKey: null,
      forwardTo: ["out@elsewhere.example"],
      webhooks: [{ id: updated.webhooks[0].id, url: "https://hooks.example.net/x", signingKey: updated.webhooks[0].signingKey }],
    });
    await createAliasPassword(db, accountId, domain, "route", { label: "x" });
    const after = await resolveAlias(db, `route@${domain}`);
    expect(after?.mailboxId).toBe(updated.mailboxId);
    expect(after?.sealingPublicKey).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it("records password use and node sightings, and serves node keys", async () => {
    await createAlias(db, accountId, domain, { localPart: "used" }, urlOptions);
    const { password } = await createAliasPassword(db, accountId, domain, "used", { label: "x" });
    await touchPasswordUsed(db, password.id);
    const [listed] = await listAliasPasswords(db, accountId, domain, "used");
    expect(listed.lastUsedAt).not.toBeNull();

    await touchNodeSeen(db, nodeB);
    const nodes = await listNodes(db);
    expect(nodes.find((n) => n.id === nodeB)?.lastSeenAt).not.toBeNull();
    expect(await getNodePublicKey(db, nodeA)).toBe(nodes.find((n) => n.id === nodeA)?.publicKey);
    expect(await getNodePublicKey(db, "node_unknown")).toBeNull();
  });
});
