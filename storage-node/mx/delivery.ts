/**
 * The step between the end of DATA and the `250`: everything a message must
 * become before it may be acknowledged (DESIGN §2.2).
 *
 * Invariants:
 * - `deliver()` resolves only when every part is durable: sealed spool
 *   entries, forward and webhook jobs and the message copy they need (one
 *   fsync'd spool transaction), direct inserts into open mailboxes (the
 *   store's append is durable when it resolves), and entries relayed to their
 *   home node (acknowledged only after the home node's fsync'd spool write).
 *   Only then does the MX say 250.
 * - Mail for a mailbox that is not open on this node is sealed to the alias's
 *   public key (context = spool id) before it touches a disk or a peer link;
 *   a relaying node cannot read what it relays.
 * - Ids are stable: the spool id of a recipient and the delivery id of a
 *   webhook/forward job are derived from the delivery id, so the dedupe key of
 *   a drain and the idempotency key of a webhook never change across retries.
 * - Errors are protocol-neutral `DeliveryError`s; the MX maps them to replies.
 *
 * Multi-node: a mailbox lives on one home node (the route's `homeNode`).
 * - Home node is this node: insert straight into the open mailbox, or seal
 *   into the local spool (drained at the next open).
 * - Home node is another node: seal, then relay the sealed entry over the
 *   peer link (`relay`, bounded by PEER_LIMITS.relayTimeoutMs); the home node
 *   acknowledges after its own fsync'd spool write (and drains at once when
 *   the mailbox is open there). If it cannot be reached in time, the sealed
 *   entry goes into the local spool as a relay job, in the same transaction
 *   as the forward/webhook jobs, and the relay queue (peer/relay-queue.ts)
 *   retries until acknowledged. Quota: the route's quotaBytes minus what this
 *   node still holds for the mailbox; the home node enforces the rest when it
 *   drains.
 * - No home node yet (nobody has logged in): this node asks the edge to place
 *   the mailbox (`place`, the same first-come placement a login does), so the
 *   mail is spooled where the first login will drain it — usually here; if
 *   another node won the race, the entry is relayed to it as above.
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
  /** Sealed entries written to this node's spool (to drain here, or queued for relay). */
  sealed: number;
  /** Sealed entries acknowledged by their home node over a peer link. */
  relayed: number;
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
  onQueued(kinds: { forward: boolean; webhook: boolean; relay?: boolean }): void;
  /** Multi-node delivery; without it every mailbox is treated as homed here. */
  peers?: DeliveryPeersOptions;
}

export interface DeliveryPeersOptions {
  /** This node's id. */
  nodeId: string;
  /** Hands a sealed entry to its home node; true once the home node acknowledged it durable. */
  relay(homeNode: string, entry: SealedEntryData): Promise<boolean>;
  /** Places an unplaced mailbox (first come); resolves to its home node. Throws when the edge cannot be asked. */
  place(route: AliasRouteData & { mailboxId: string }): Promise<string | null>;
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
    /** Sealed entries for the local spool; null when relayed to (and acknowledged by) the home node. */
    const sealed: Promise<SealedEntryData | null>[] = [];
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
        const target = { ...route, mailboxId: route.mailboxId, sealingPublicKey: route.sealingPublicKey };
        const homeNode = await this.homeNodeOf(target);
        const peers = this.options.peers;
        const open = this.options.store.openMailbox(route.mailboxId);
        if (peers && homeNode !== null && homeNode !== peers.nodeId) {
          sealed.push(
            sealFor(target, spoolId).then(async (entry) => {
              const acknowledged = await peers.relay(homeNode, entry).catch(() => false);
              return acknowledged ? null : { ...entry, relayTo: homeNode };
            }),
          );
        } else if (open) {
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
    let relayed = 0;
    for (const result of await Promise.allSettled(sealed)) {
      if (result.status === "rejected") fail(result.reason);
      else if (result.value) entries.push(result.value);
      else relayed++;
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
    const relayQueued = entries.some((entry) => entry.relayTo);
    if (jobs.length > 0 || relayQueued) this.options.onQueued({ forward: forwards > 0, webhook: webhooks > 0, relay: relayQueued });
    return { sealed: entries.length, relayed, direct, forwards, webhooks };
  }

  /** The route's home node; an unplaced mailbox is placed first (see the module header). */
  private async homeNodeOf(route: AliasRouteData & { mailboxId: string }): Promise<string | null> {
    const peers = this.options.peers;
    if (!peers || route.homeNode !== null) return route.homeNode;
    try {
      return await peers.place(route);
    } catch {
      throw new DeliveryError("temporary", "the mailbox could not be placed");
    }
  }
}
