/**
 * Test helpers over the real HTTP API: a fresh account with a domain, an
 * alias and a password, and a registered node key — each test makes its own.
 */
import { randomBytes } from "node:crypto";
import { ApiClient } from "../../cli/api-client.ts";
import { generateNodeKeyPair } from "../../shared/tunnel/handshake.ts";
import type { EdgeHandle } from "./edge.ts";

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

export interface TestMailboxData {
  api: ApiClient;
  domain: string;
  address: string;
  password: string;
  passwordId: string;
}

/** Creates an account, a domain, an IMAP alias and its first password. */
export async function createTestMailbox(edge: EdgeHandle, localPart = "user"): Promise<TestMailboxData> {
  const api = new ApiClient({ edgeUrl: edge.url });
  const account = await api.createAccount(`${uniqueName("owner")}@example.test`);
  api.token = account.apiToken;
  const domain = `${uniqueName("d")}.example.test`;
  await api.addDomain(domain);
  const address = `${localPart}@${domain}`;
  await api.createAlias(address, { imap: true });
  const created = await api.generatePassword(address, "test device");
  return { api, domain, address, password: created.password, passwordId: created.id };
}

export async function registerTestNode(edge: EdgeHandle, label = "test node"): Promise<{ nodeId: string; secretKey: string; publicKey: string }> {
  const keys = generateNodeKeyPair();
  const api = new ApiClient({ edgeUrl: edge.url });
  const { id } = await api.registerNode(edge.adminToken, label, keys.publicKey);
  return { nodeId: id, ...keys };
}

/** Polls `check` until it returns true (or fails after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
