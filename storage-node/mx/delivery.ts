/**
 * The step between the end of DATA and the `250`: everything a message must
 * become before it may be acknowledged (DESIGN §2.2).
 *
 * Invariants:
 * - `deliver()` resolves only when every part is durable: sealed spool
 *   entries, forward and webhook jobs and the message copy they need (one
 *   fsync'd spool transaction), and direct inserts into open mailboxes (the
 *   store's append is durable when it resolves). Only then does the MX say 250.
 * - Mail for a mailbox that is not open on this node is sealed to the alias's
 *   public key (context = spool id) before it touches the disk.
 * - Ids are stable: the spool id of a recipient and the delivery id of a
 *   webhook/forward job are derived from the delivery id, so the dedupe key of
 *   a drain and the idempotency key of a webhook never change across retries.
 * - Errors are protocol-neutral `DeliveryError`s; the MX maps them to replies.
 *
 * Multi-node note: when a route's home node is another node, this node still
 * spools the sealed entry locally. A multi-node deployment relays it over the
 * peer link to the home node's spool (same sealed bytes, same spool id, so a
 * relay retry is absorbed by the dedupe key) before answering 250; until peer
 * links exist, a mailbox is only ever drained on the node that holds its spool.
 */
import { randomBytes } from "node:crypto";
import { fromBase64 } from "../../shared/crypto/encoding.ts";
import { seal } from "../../shared/crypto/sealing.ts";
import type { AliasRouteData } from "../../shared/tunnel/records.ts";
import { spoolSealContext, type DrainingStore } from "../spool/draining-store.ts";
import type { SealPool } from "../spool/seal-pool.ts";
import type { NewJobData, SealedEntryData, SmtpEnvelopeData, SpoolDatabase } from "../spool/spool-database.ts";
import { StoreError } from "../store/types.ts";

export type DeliveryErrorKind = "over-quota" | "temporary" | "invalid";

export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(
    readonly kind: DeliveryErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Sortable by time, unique: 10 base-36 time digits + 16 hex random. */
export function newDeliveryId(now = Date.now()): string {
  return now.toString(36).padStart(10, "0") + randomBytes(8).toString("hex");
}

export interface ForwardTargetData {
  to: string;
  /** The alias the message was sent to (SRS and DKIM use its domain). */
  alias: string;
}

export interface WebhookTargetJobData {
  webhookId: string;
  url: string;
  signingKey: string;
  alias: string;
}

export interface InboundMessageData {
  deliveryId: string;
  /** The message as stored: trace headers + the bytes received. */
  raw: Uint8Array;
  envelope: SmtpEnvelopeData;
  authResults: string;
  receivedAt: Date;
  routes: AliasRouteData[];
}

export interface DeliveryOutcomeData {
  sealed: number;
  direct: number;
  forwards: number;
  webhooks: number;
}

/** True when the route stores mail in a mailbox. */
export function storesInMailbox(route: AliasRouteData): boolean {
  return route.imap && route.mailboxId !== null && route.sealingPublicKey !== null;
}

export interface DelivererOptions {
  spool: SpoolDatabase;
  store: DrainingStore;
  /** Seals on worker threads; without it sealing runs inline. */
  sealPool?: SealPool;
  onQueued(kinds: { forward: boolean; webhook: boolean }): void;
}

export class Deliverer {
  private readonly options: DelivererOptions;

  constructor(options: DelivererOptions) {
    this.options = options;
  }

  /**
   * Bytes a mailbox may still take, as far as this node can tell: the open
   * mailbox's own quota, or for a closed one the quota minus what already
   * waits in the spool. Null = unlimited.
   */
  async roomLeft(route: AliasRouteData): Promise<number | null> {
    if (!storesInMailbox(route) || route.mailboxId === null) return null;
    const open = this.options.store.openMailbox(route.mailboxId);
    if (open) {
      const quota = await open.quota();
      const limit = quota.limitBytes ?? route.quotaBytes;
      return limit === null ? null : limit - quota.usedBytes - this.options.spool.sealedBytes(route.mailboxId);
    }
    if (route.quotaBytes === null) return null;
    return route.quotaBytes - this.options.spool.sealedBytes(route.mailboxId);
  }

  async deliver(message: InboundMessageData): Promise<DeliveryOutcomeData> {
    const { deliveryId, raw } = message;
    const sealed: Promise<SealedEntryData>[] = [];
    /** Direct inserts; each resolves to a sealed entry when it had to fall back to the spool. */
    const directs: Promise<SealedEntryData | null>[] = [];
    const jobs: NewJobData[] = [];
    const forwardSeen = new Set<string>();
    const now = Date.now();

    const pool = this.options.sealPool;
    const sealFor = async (route: AliasRouteData & { mailboxId: string; sealingPublicKey: string }, spoolId: string): Promise<SealedEntryData> => {
      let publicKey: Uint8Array;
      try {
        publicKey = fromBase64(route.sealingPublicKey);
      } catch {
        throw new DeliveryError("temporary", "alias sealing key is malformed");
      }
      const context = spoolSealContext(spoolId);
      return {
        id: spoolId,
        mailboxId: route.mailboxId,
        aliasId: route.aliasId,
        receivedAt: message.receivedAt,
        size: raw.length,
        sealed: pool ? await pool.seal(publicKey, raw, context) : seal(publicKey, raw, context),
      };
    };

    for (const [index, route] of message.routes.entries()) {
      if (storesInMailbox(route) && route.mailboxId !== null && route.sealingPublicKey !== null) {
        const room = await this.roomLeft(route);
        if (room !== null && raw.length > room) throw new DeliveryError("over-quota", "mailbox over quota");
        const spoolId = `${deliveryId}.${index}`;
        const open = this.options.store.openMailbox(route.mailboxId);
        const target = { ...route, mailboxId: route.mailboxId, sealingPublicKey: route.sealingPublicKey };
        if (open) {
          // The last session may close the mailbox under us: then the message goes to the spool.
          directs.push(
            open.append("INBOX", raw, { dedupeKey: spoolId, internalDate: message.receivedAt }).then(
              () => null,
              (error: unknown) => {
                if (error instanceof StoreError && (error.kind === "over-quota" || error.kind === "too-big")) throw error;
                return sealFor(target, spoolId);
              },
            ),
          );
        } else {
          sealed.push(sealFor(target, spoolId));
        }
      }
      for (const to of route.forwardTo) {
        const key = to.toLowerCase();
        if (forwardSeen.has(key)) continue;
        forwardSeen.add(key);
        const target: ForwardTargetData = { to, alias: route.address };
        jobs.push({ id: `${deliveryId}.f${jobs.length}`, kind: "forward", target: JSON.stringify(target), nextAttemptAt: now });
      }
      for (const webhook of route.webhooks) {
        const target: WebhookTargetJobData = { webhookId: webhook.id, url: webhook.url, signingKey: webhook.signingKey, alias: route.address };
        jobs.push({ id: `${deliveryId}.w${jobs.length}`, kind: "webhook", target: JSON.stringify(target), nextAttemptAt: now });
      }
    }

    const fail = (reason: unknown): never => {
      if (reason instanceof StoreError && (reason.kind === "over-quota" || reason.kind === "too-big")) {
        throw new DeliveryError("over-quota", "mailbox over quota");
      }
      if (reason instanceof DeliveryError) throw reason;
      throw new DeliveryError("temporary", "delivery could not be made durable");
    };
    let direct = 0;
    const entries: SealedEntryData[] = [];
    for (const result of await Promise.allSettled(directs)) {
      if (result.status === "rejected") fail(result.reason);
      else if (result.value) entries.push(result.value);
      else direct++;
    }
    for (const result of await Promise.allSettled(sealed)) {
      if (result.status === "rejected") fail(result.reason);
      else entries.push(result.value);
    }
    if (entries.length > 0 || jobs.length > 0) {
      try {
        await this.options.spool.write({
          sealed: entries,
          message: jobs.length > 0 ? { id: deliveryId, raw, envelope: message.envelope, authResults: message.authResults, receivedAt: message.receivedAt } : undefined,
          jobs,
        });
      } catch (error) {
        fail(error);
      }
    }
    const forwards = jobs.filter((j) => j.kind === "forward").length;
    const webhooks = jobs.length - forwards;
    if (jobs.length > 0) this.options.onQueued({ forward: forwards > 0, webhook: webhooks > 0 });
    return { sealed: entries.length, direct, forwards, webhooks };
  }
}
