/**
 * Test harness: the node's inbound services in this process (real tunnel to a
 * real edge, real spool database, real MX socket, a real mailbox store), so a
 * test can deliver over SMTP and read back through the store.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CredentialCache, EdgeUnavailableError } from "../../../storage-node/auth/credential-cache.ts";
import { EdgeAuthenticator } from "../../../storage-node/auth/edge-authenticator.ts";
import type { AuthenticatedData } from "../../../storage-node/auth/types.ts";
import { startInbound, type InboundServices } from "../../../storage-node/inbound.ts";
import { createLogger } from "../../../storage-node/log.ts";
import type { MxLimitOverrides } from "../../../storage-node/mx/mx-server.ts";
import { DEFAULT_SETTINGS, type NodeSettings } from "../../../storage-node/settings.ts";
import { createMemoryStore } from "../../../storage-node/store/memory-store.ts";
import { createSqliteStore } from "../../../storage-node/store/sqlite-store.ts";
import type { Mailbox, MailStore } from "../../../storage-node/store/types.ts";
import { ensureSelfSignedCertificate } from "../../../storage-node/tls/self-signed.ts";
import { TunnelClient } from "../../../storage-node/tunnel/tunnel-client.ts";
import { registerTestNode } from "../../support/api.ts";
import type { EdgeHandle } from "../../support/edge.ts";

export interface InboundHarness {
  settings: NodeSettings;
  tunnel: TunnelClient;
  inbound: InboundServices;
  /** The store the client protocols would use (the draining decorator). */
  store: MailStore;
  mxPort: number;
  dataDir: string;
  login(address: string, password: string): Promise<AuthenticatedData>;
  /** Logs in (remembering the sealing secret, as a real login does) and opens the mailbox. */
  openMailbox(address: string, password: string): Promise<Mailbox>;
  close(): Promise<void>;
}

export interface InboundHarnessOptions {
  settings?: Partial<NodeSettings>;
  store?: "memory" | "sqlite";
  dataDir?: string;
  nodeKeys?: { nodeId: string; secretKey: string };
  mxOverrides?: MxLimitOverrides;
}

export function newSpoolKey(): string {
  return randomBytes(32).toString("base64");
}

export async function startInboundHarness(edge: EdgeHandle, options: InboundHarnessOptions = {}): Promise<InboundHarness> {
  const logger = createLogger(process.env.SEALBOX_TEST_LOG ?? "silent");
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), "sealbox-mx-")));
  const keys = options.nodeKeys ?? (await registerTestNode(edge));
  const settings: NodeSettings = {
    ...DEFAULT_SETTINGS,
    nodeId: keys.nodeId,
    nodeSecretKey: keys.secretKey,
    edgeUrl: edge.url,
    dataDir,
    mxPort: 0,
    hostname: "mx.sealbox.test",
    spoolKey: newSpoolKey(),
    dnsServers: "127.0.0.1:9",
    allowPrivateWebhooks: true,
    ...options.settings,
  };
  let inbound: InboundServices | null = null;
  const tunnel = new TunnelClient({
    edgeUrl: edge.url,
    nodeId: keys.nodeId,
    nodeSecretKey: keys.secretKey,
    logger,
    backoffBaseMs: 100,
    backoffMaxMs: 1_000,
    handlers: {
      "node.ping": () => ({ pong: true, time: Date.now() }),
      "node.status": () => ({ nodeId: keys.nodeId, version: "test", uptimeSeconds: 1, listeners: [] }),
      "address.changed": ({ address }) => {
        cache.invalidate(address);
        inbound?.onAddressChanged(address);
        return { invalidated: true as const };
      },
    },
    onPush: (event, data) => {
      if (event === "address.changed") {
        cache.invalidate(data.address);
        inbound?.onAddressChanged(data.address);
      }
    },
  });
  const cache = new CredentialCache(async (address) => {
    const result = await tunnel.call("credentials.lookup", { address });
    if (!result.ok) throw new EdgeUnavailableError(result.error.code);
    return result.value;
  }, 60_000);
  tunnel.start();
  await tunnel.waitConnected(20_000);
  const base = options.store === "sqlite" ? createSqliteStore({ dataDir: path.join(dataDir, "mailboxes"), workers: 1 }) : createMemoryStore();
  const tls = await ensureSelfSignedCertificate(path.join(dataDir, "tls"), settings.hostname);
  const listeners: { name: string; port: number }[] = [];
  inbound = await startInbound({ settings, logger, tunnel, cache, store: base, tls, listeners, mxOverrides: options.mxOverrides });
  const services = inbound;
  const mxPort = listeners.find((l) => l.name === "mx")?.port ?? 0;
  const authenticator = new EdgeAuthenticator({ cache, logger, failureDelayMs: 10, onSuccess: (auth) => services.onLogin(auth) });

  const login = async (address: string, password: string) => {
    const auth = await authenticator.authenticate(address, password, { ip: "127.0.0.1", protocol: "imap" });
    if (!auth) throw new Error("login failed");
    return auth;
  };
  return {
    settings,
    tunnel,
    inbound: services,
    store: services.store,
    mxPort,
    dataDir,
    login,
    async openMailbox(address, password) {
      const auth = await login(address, password);
      return services.store.open({ id: auth.mailboxId, key: auth.mailboxKey, create: true, quotaBytes: auth.quotaBytes ?? undefined });
    },
    async close() {
      await services.close();
      await services.store.close();
      await tunnel.close();
    },
  };
}

/** Every message of INBOX, as raw bytes, in UID order. */
export async function inboxMessages(mailbox: Mailbox): Promise<Buffer[]> {
  const uids = await mailbox.uids("INBOX");
  const out: Buffer[] = [];
  if (uids.length === 0) return out;
  for await (const message of mailbox.fetch("INBOX", [{ start: 1, end: Infinity }], { sections: [{ part: [], specifier: "" }] })) {
    const section = message.sections?.[0];
    if (!section) continue;
    const chunks: Uint8Array[] = [];
    for await (const chunk of section.chunks) chunks.push(chunk);
    out.push(Buffer.concat(chunks));
  }
  return out;
}

/** The message as the sender sent it: what follows the trace headers the MX prepended. */
export function withoutTraceHeaders(stored: Buffer): Buffer {
  let offset = 0;
  for (;;) {
    const lineEnd = stored.indexOf("\r\n", offset);
    if (lineEnd < 0) return stored;
    const line = stored.subarray(offset, lineEnd).toString("latin1");
    const isTrace = /^(Received|Authentication-Results|Received-SPF|ARC-[A-Za-z-]+):/i.test(line) || /^[ \t]/.test(line);
    if (!isTrace) return stored.subarray(offset);
    offset = lineEnd + 2;
  }
}
