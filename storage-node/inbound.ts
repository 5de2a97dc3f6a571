/**
 * Inbound mail on the node: the MX, the sealed spool, the spool drain on
 * mailbox open, forwarding and webhook queues. Started by node.ts before the
 * client protocols, because it wraps the mailbox store (spool drain).
 *
 * Invariants:
 * - Without a spool key (`spoolKey` setting) there is no MX and no spool: the
 *   store passes through unchanged and a warning says so. With one, the key
 *   must be exactly 32 bytes (base64) or the node refuses to start.
 * - Sealing secrets are unwrapped at login (`onLogin`) and held in memory only
 *   while the mailbox is open; an `address.changed` push drops them and the
 *   cached route of that address.
 * - With peer links (`peers`), mail for a mailbox homed on another node is
 *   relayed there (mx/delivery.ts), and sealed entries other nodes relay here
 *   (`spool.relay`) are written durably into this spool before they are
 *   acknowledged, then drained at once when the mailbox is open here.
 * - `close()` stops the MX first (in-flight DATA finishes), then the queues,
 *   then closes the spool database.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64 } from "../shared/crypto/encoding.ts";
import { unwrapSealingSecret } from "../shared/crypto/sealing.ts";
import type { AuthenticatedData } from "./auth/types.ts";
import type { CredentialCache } from "./auth/credential-cache.ts";
import { normalizeAddress } from "./auth/credential-cache.ts";
import { MX_LIMITS, OUTBOUND_LIMITS, PEER_LIMITS, WEBHOOK_LIMITS } from "./limits.ts";
import type { PeerPool } from "./peer/peer-pool.ts";
import type { PeerServer } from "./peer/peer-server.ts";
import { RelayQueue, relayEntry } from "./peer/relay-queue.ts";
import { RpcError } from "../shared/tunnel/rpc-peer.ts";
import type { Logger } from "./log.ts";
import { Deliverer, newDeliveryId, type WebhookTargetJobData } from "./mx/delivery.ts";
import { createDnsResolver } from "./mx/dns-resolver.ts";
import { MxServer, type MxLimitOverrides } from "./mx/mx-server.ts";
import { RouteCache, RouteUnavailableError } from "./mx/route-cache.ts";
import { buildDsn, statusFromReply } from "./outbound/dsn.ts";
import { ForwardSender, type DkimKeyData, type ForwardJobTargetData } from "./outbound/forward-sender.ts";
import { MtaStsResolver } from "./outbound/mta-sts.ts";
import { NextHopResolver, parseStaticRoutes } from "./outbound/next-hops.ts";
import { Srs } from "./outbound/srs.ts";
import type { NodeSettings } from "./settings.ts";
import { DrainingStore } from "./spool/draining-store.ts";
import { JobQueue } from "./spool/job-queue.ts";
import { SealPool } from "./spool/seal-pool.ts";
import { SPOOL_KEY_BYTES, SpoolDatabase } from "./spool/spool-database.ts";
import type { MailStore } from "./store/types.ts";
import type { TunnelClient } from "./tunnel/tunnel-client.ts";
import { WebhookSender } from "./webhooks/webhook-sender.ts";

export interface InboundContext {
  settings: NodeSettings;
  logger: Logger;
  tunnel: TunnelClient;
  cache: CredentialCache;
  store: MailStore;
  tls: { key: string; cert: string };
  listeners: { name: string; port: number }[];
  /** Overrides of MX limits (tests of their edges, benchmarks); production uses MX_LIMITS. */
  mxOverrides?: MxLimitOverrides;
  /** Peer links to other nodes; without them every mailbox is treated as homed here. */
  peers?: { server: PeerServer; pool: PeerPool };
}

export interface InboundServices {
  /** The store the client protocols must use (may wrap the given one). */
  store: MailStore;
  /** Called after every successful login, with the unwrapped key in memory. */
  onLogin(auth: AuthenticatedData): void;
  /** Called when the edge pushes "address.changed". */
  onAddressChanged(address: string): void;
  close(): Promise<void>;
}

export class InboundSettingsError extends Error {
  override name = "InboundSettingsError";
}

export function decodeSpoolKey(text: string): Uint8Array {
  let key: Uint8Array;
  try {
    key = fromBase64(text.trim());
  } catch {
    throw new InboundSettingsError(`spoolKey must be ${SPOOL_KEY_BYTES} bytes in base64`);
  }
  if (key.length !== SPOOL_KEY_BYTES) throw new InboundSettingsError(`spoolKey must be ${SPOOL_KEY_BYTES} bytes in base64`);
  return key;
}

export async function startInbound(context: InboundContext): Promise<InboundServices> {
  const { settings, logger } = context;
  if (!settings.spoolKey) {
    logger.warn("no spool key (SEALBOX_SPOOL_KEY): inbound mail (MX) is disabled");
    return { store: context.store, onLogin: () => undefined, onAddressChanged: () => undefined, close: async () => undefined };
  }
  const spoolKey = decodeSpoolKey(settings.spoolKey);
  let srsSecret: Uint8Array;
  if (settings.srsSecret) {
    try {
      srsSecret = fromBase64(settings.srsSecret.trim());
    } catch {
      throw new InboundSettingsError("srsSecret must be base64");
    }
    if (srsSecret.length < 16) throw new InboundSettingsError("srsSecret must be at least 16 bytes");
  } else {
    srsSecret = hkdf(sha256, spoolKey, undefined, new TextEncoder().encode("sealbox/srs/v1"), 32);
  }
  let dkim: DkimKeyData | null = null;
  if (settings.dkimPrivateKeyPath) {
    try {
      dkim = { selector: settings.dkimSelector, privateKey: readFileSync(settings.dkimPrivateKeyPath, "utf8") };
    } catch {
      throw new InboundSettingsError("dkimPrivateKeyPath cannot be read");
    }
  }
  let outboundCa: string | null = null;
  if (settings.outboundCaPath) {
    try {
      outboundCa = readFileSync(settings.outboundCaPath, "utf8");
    } catch {
      throw new InboundSettingsError("outboundCaPath cannot be read");
    }
  }
  let staticRoutes;
  try {
    staticRoutes = parseStaticRoutes(settings.staticRoutes);
  } catch (error) {
    throw new InboundSettingsError(error instanceof Error ? error.message : "staticRoutes is malformed");
  }
  const spool = SpoolDatabase.open({ dir: path.join(settings.dataDir, "spool"), key: spoolKey });
  spoolKey.fill(0);
  const store = new DrainingStore({ base: context.store, spool, logger });

  const routes = new RouteCache(async (address) => {
    const result = await context.tunnel.call("alias.resolve", { address });
    if (!result.ok) throw new RouteUnavailableError(`alias look-up failed: ${result.error.code}`);
    return result.value;
  });
  context.tunnel.on("connected", () => routes.clear());

  const resolver = createDnsResolver(settings.dnsServers);
  const webhookSender = new WebhookSender({ allowPrivate: settings.allowPrivateWebhooks });
  // The owner sees each webhook's last success/failure and abandoned count through the edge
  // (best effort: a report lost while the tunnel is down is not retried).
  const reportWebhook = (target: string, outcome: "success" | "failure" | "abandoned", error?: string) => {
    let webhookId: string;
    try {
      webhookId = (JSON.parse(target) as WebhookTargetJobData).webhookId;
    } catch {
      return;
    }
    if (typeof webhookId !== "string" || webhookId.length === 0) return;
    context.tunnel.call("webhook.status", { webhookId, outcome, ...(error ? { error: error.slice(0, 200) } : {}) }).then(
      (result) => {
        if (!result.ok) logger.debug({ webhookId, code: result.error.code }, "webhook status not recorded");
      },
      () => logger.debug({ webhookId }, "webhook status not recorded"),
    );
  };
  const webhooks = new JobQueue({
    spool,
    kind: "webhook",
    concurrency: WEBHOOK_LIMITS.concurrency,
    retryBaseMs: settings.webhookRetryBaseMs,
    retryMaxMs: WEBHOOK_LIMITS.retryMaxMs,
    giveUpAfterMs: WEBHOOK_LIMITS.giveUpAfterMs,
    logger: logger.child({ service: "webhooks" }),
    async run(job, message, signal) {
      const outcome = await webhookSender.send(job, message, signal);
      if (outcome.kind === "done") reportWebhook(job.target, "success");
      else if (outcome.kind === "retry" && !signal.aborted) reportWebhook(job.target, "failure", outcome.reason);
      return outcome;
    },
    onGiveUp(job, _message, reason) {
      reportWebhook(job.target, "abandoned", reason);
      return Promise.resolve();
    },
  });
  webhooks.start();

  const srs = new Srs(srsSecret);
  const mtaSts = new MtaStsResolver({ resolver, ca: outboundCa, port: settings.mtaStsPort, logger: logger.child({ service: "mta-sts" }) });
  const forwardSender = new ForwardSender({
    hostname: settings.hostname,
    srs,
    hops: new NextHopResolver({ staticRoutes, resolver, dohUrl: settings.dohUrl, port: settings.outboundPort }),
    dkim,
    logger: logger.child({ service: "forwarding" }),
    mtaSts,
    ca: outboundCa,
  });
  const forwards: JobQueue = new JobQueue({
    spool,
    kind: "forward",
    concurrency: OUTBOUND_LIMITS.concurrency,
    retryBaseMs: settings.outboundRetryBaseMs,
    retryMaxMs: OUTBOUND_LIMITS.retryMaxMs,
    giveUpAfterMs: OUTBOUND_LIMITS.giveUpAfterMs,
    logger: logger.child({ service: "forwarding" }),
    run: (job, message, signal) => forwardSender.send(job, message, signal),
    async onGiveUp(job, message, reason) {
      // RFC 5321 §4.5.5 / RFC 3464: tell the original sender, never for a bounce.
      const target = JSON.parse(job.target) as ForwardJobTargetData;
      const sender = message.envelope.mailFrom;
      if (target.bounce || sender === "") return;
      const expired = Date.now() - job.createdAt >= OUTBOUND_LIMITS.giveUpAfterMs;
      const receivedAt = new Date();
      const id = newDeliveryId(receivedAt.getTime());
      const raw = buildDsn(
        {
          hostname: settings.hostname,
          originalSender: sender,
          failedRecipient: target.to,
          status: expired ? "4.4.7" : statusFromReply(reason, true),
          diagnostic: reason,
          arrivalDate: message.receivedAt,
          originalRaw: message.raw,
        },
        OUTBOUND_LIMITS.dsnMaxReturnedBytes,
      );
      const bounce: ForwardJobTargetData = { to: sender, alias: target.alias, bounce: true };
      await spool.write({
        message: { id, raw, envelope: { mailFrom: "", rcptTo: [sender], remoteAddress: "127.0.0.1", helo: settings.hostname, secure: false }, authResults: "{}", receivedAt },
        jobs: [{ id: `${id}.f0`, kind: "forward", target: JSON.stringify(bounce), nextAttemptAt: Date.now() }],
      });
      setImmediate(() => forwards.poke());
    },
  });
  forwards.start();

  const peers = context.peers;
  const relays = peers
    ? new RelayQueue({
        spool,
        retryBaseMs: settings.relayRetryBaseMs,
        logger: logger.child({ service: "relay" }),
        send: (homeNode, entry, timeoutMs) => peers.pool.call(homeNode, "spool.relay", entry, timeoutMs),
      })
    : null;
  relays?.start();
  if (peers) {
    // Another node relays sealed mail for a mailbox homed here (DESIGN §2.2).
    peers.server.handle("spool.relay", async (entry) => {
      const sealed = Buffer.from(entry.sealed, "base64");
      if (sealed.length === 0 || sealed.toString("base64") !== entry.sealed) throw new RpcError("invalid-params", "sealed bytes are not canonical base64");
      if (entry.size > MX_LIMITS.maxMessageBytes) throw new RpcError("invalid-params", "entry is larger than any message this node accepts");
      try {
        await spool.write({ sealed: [{ id: entry.id, mailboxId: entry.mailboxId, aliasId: entry.aliasId, receivedAt: new Date(entry.receivedAt), size: entry.size, sealed }] });
      } catch {
        throw new RpcError("temporary", "the entry could not be stored");
      }
      const open = store.openMailbox(entry.mailboxId);
      if (open) {
        store.drain(entry.mailboxId, open).catch(() => logger.warn({ mailboxId: entry.mailboxId }, "drain after relay failed"));
      }
      return { stored: true };
    });
  }

  // One sealing thread per spare core (at least one), so sealing never blocks the sockets.
  const sealPool = new SealPool(Math.max(1, Math.min(4, availableParallelism() - 1)));
  const deliverer = new Deliverer({
    spool,
    store,
    sealPool,
    onQueued: (kinds) => {
      if (kinds.webhook) webhooks.poke();
      if (kinds.forward) forwards.poke();
      if (kinds.relay) relays?.poke();
    },
    peers: peers
      ? {
          nodeId: settings.nodeId,
          relay: async (homeNode, entry) => {
            const result = await peers.pool.call(homeNode, "spool.relay", relayEntry(entry), PEER_LIMITS.relayTimeoutMs);
            if (!result.ok) logger.info({ peer: homeNode, code: result.error.code }, "home node not reachable; relay queued");
            return result.ok;
          },
          place: async (route) => {
            const result = await context.tunnel.call("mailbox.place", { mailboxId: route.mailboxId });
            if (!result.ok) throw new RouteUnavailableError(`placement failed: ${result.error.code}`);
            routes.invalidate(normalizeAddress(route.address));
            return result.value.homeNode;
          },
        }
      : undefined,
  });
  const mx = new MxServer({
    hostname: settings.hostname,
    tls: context.tls,
    logger: logger.child({ service: "mx" }),
    routes,
    deliverer,
    resolver,
    overrides: context.mxOverrides,
    bounceRoute: (address) => {
      // A bounce to an SRS address we issued: relay it to the original sender.
      const original = srs.reverse(address);
      if (!original) return null;
      return { address, aliasId: `srs:${address.toLowerCase()}`, mailboxId: null, homeNode: null, imap: false, quotaBytes: null, sealingPublicKey: null, forwardTo: [original], webhooks: [] };
    },
  });
  let mxPort: number;
  try {
    ({ port: mxPort } = await mx.listen({ port: settings.mxPort, host: settings.host }));
  } catch (error) {
    await sealPool.close();
    await relays?.stop();
    await forwards.stop();
    await webhooks.stop();
    await webhookSender.close();
    await mtaSts.close();
    spool.close();
    throw error;
  }
  context.listeners.push({ name: "mx", port: mxPort });

  /** alias address → { mailboxId, aliasId } of remembered secrets, for invalidation. */
  const secretsByAddress = new Map<string, string>();

  return {
    store,
    onLogin(auth) {
      if (!auth.sealingSecretWrapped) return;
      try {
        const secret = unwrapSealingSecret(auth.sealingSecretWrapped, auth.mailboxKey);
        store.rememberSecret(auth.mailboxId, auth.aliasId, secret);
        secretsByAddress.set(normalizeAddress(auth.address), auth.aliasId);
      } catch {
        logger.warn({ mailboxId: auth.mailboxId }, "sealing secret could not be unwrapped: spool not drained");
      }
    },
    onAddressChanged(address) {
      const key = normalizeAddress(address);
      routes.invalidate(key);
      const aliasId = secretsByAddress.get(key);
      if (aliasId) {
        secretsByAddress.delete(key);
        store.forgetAlias(aliasId);
      }
    },
    async close() {
      secretsByAddress.clear();
      await mx.close();
      await sealPool.close();
      await relays?.stop();
      await forwards.stop();
      await webhooks.stop();
      await webhookSender.close();
      await mtaSts.close();
      spool.close();
    },
  };
}
