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
 * - `close()` stops the MX first (in-flight DATA finishes), then the queues,
 *   then closes the spool database.
 */
import path from "node:path";
import { fromBase64 } from "../shared/crypto/encoding.ts";
import { unwrapSealingSecret } from "../shared/crypto/sealing.ts";
import type { AuthenticatedData } from "./auth/types.ts";
import type { CredentialCache } from "./auth/credential-cache.ts";
import { normalizeAddress } from "./auth/credential-cache.ts";
import { WEBHOOK_LIMITS } from "./limits.ts";
import type { Logger } from "./log.ts";
import { Deliverer } from "./mx/delivery.ts";
import { createDnsResolver } from "./mx/dns-resolver.ts";
import { MxServer } from "./mx/mx-server.ts";
import { RouteCache, RouteUnavailableError } from "./mx/route-cache.ts";
import type { NodeSettings } from "./settings.ts";
import { DrainingStore } from "./spool/draining-store.ts";
import { JobQueue } from "./spool/job-queue.ts";
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
  const webhooks = new JobQueue({
    spool,
    kind: "webhook",
    concurrency: WEBHOOK_LIMITS.concurrency,
    retryBaseMs: settings.webhookRetryBaseMs,
    retryMaxMs: WEBHOOK_LIMITS.retryMaxMs,
    giveUpAfterMs: WEBHOOK_LIMITS.giveUpAfterMs,
    logger: logger.child({ service: "webhooks" }),
    run: (job, message) => webhookSender.send(job, message),
  });
  webhooks.start();

  const deliverer = new Deliverer({
    spool,
    store,
    onQueued: (kinds) => {
      if (kinds.webhook) webhooks.poke();
    },
  });
  const mx = new MxServer({ hostname: settings.hostname, tls: context.tls, logger: logger.child({ service: "mx" }), routes, deliverer, resolver });
  let mxPort: number;
  try {
    ({ port: mxPort } = await mx.listen({ port: settings.mxPort, host: settings.host }));
  } catch (error) {
    await webhooks.stop();
    await webhookSender.close();
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
      await mx.close();
      await webhooks.stop();
      await webhookSender.close();
      spool.close();
    },
  };
}
