/**
 * Sealed mail waiting in this node's spool for its home node on another node:
 * relayed over the peer link until the home node acknowledges it durable.
 *
 * Invariants:
 * - A relay job is a sealed spool entry with `relay_node` set, written in the
 *   same fsync'd spool transaction as the delivery's forward and webhook jobs,
 *   before the MX answered 250. It leaves this node's spool only after the
 *   home node acknowledged (its spool write was fsync'd); a crash at any
 *   point leaves it in place, and it is sent again after a restart.
 * - Sending twice is harmless: the home node stores the entry under its spool
 *   id with INSERT OR IGNORE, and the drain appends it with the spool id as
 *   dedupe key, so a retry after a lost acknowledgement is absorbed.
 * - Relays never give up (the mail belongs to the mailbox): retry n waits
 *   min(PEER_LIMITS.relayRetryMaxMs, base · 2^(n−1)), ±20 % jitter.
 * - At most PEER_LIMITS.relayConcurrency relays in flight; one entry is never
 *   sent twice at the same time.
 */
import type { RpcResult } from "../../shared/tunnel/rpc-peer.ts";
import type { RelayEntryData } from "../../shared/tunnel/messages.ts";
import { PEER_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import { retryDelay } from "../spool/job-queue.ts";
import type { SealedEntryData, SpoolDatabase } from "../spool/spool-database.ts";

/** Sends one entry to its home node; resolves to the home node's answer. */
export type RelaySend = (homeNode: string, entry: RelayEntryData, timeoutMs: number) => Promise<RpcResult<{ stored: true }>>;

export interface RelayQueueOptions {
  spool: SpoolDatabase;
  send: RelaySend;
  retryBaseMs: number;
  logger: Logger;
}

/** The wire form of a sealed entry. */
export function relayEntry(entry: SealedEntryData): RelayEntryData {
  return {
    id: entry.id,
    mailboxId: entry.mailboxId,
    aliasId: entry.aliasId,
    receivedAt: entry.receivedAt.getTime(),
    size: entry.size,
    sealed: Buffer.from(entry.sealed.buffer, entry.sealed.byteOffset, entry.sealed.byteLength).toString("base64"),
  };
}

/** Longest sleep between scans, so a missed poke heals itself. */
const MAX_IDLE_MS = 60_000;

export class RelayQueue {
  private readonly options: RelayQueueOptions;
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;

  constructor(options: RelayQueueOptions) {
    this.options = options;
  }

  start(): void {
    this.stopped = false;
    this.pump();
  }

  poke(): void {
    if (!this.stopped) this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private pump(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const { spool, logger } = this.options;
    const free = PEER_LIMITS.relayConcurrency - this.inFlight.size;
    try {
      const due = free > 0 ? spool.dueRelays(Date.now(), free, new Set(this.inFlight.keys())) : [];
      for (const job of due) {
        const running = this.relayOne(job.id, job.relayTo, job.attempts, relayEntry(job)).finally(() => {
          this.inFlight.delete(job.id);
          this.pump();
        });
        this.inFlight.set(job.id, running);
      }
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.name : "error" }, "relay queue scan failed");
    }
    if (this.inFlight.size >= PEER_LIMITS.relayConcurrency) return;
    let next: number | null = null;
    try {
      next = spool.nextRelayAt();
    } catch {
      next = null;
    }
    const wait = next === null ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(10, next - Date.now()));
    this.timer = setTimeout(() => this.pump(), wait);
    this.timer.unref();
  }

  private async relayOne(id: string, homeNode: string, attempts: number, entry: RelayEntryData): Promise<void> {
    const { spool, logger } = this.options;
    const result = await this.options.send(homeNode, entry, PEER_LIMITS.queuedRelayTimeoutMs);
    if (this.stopped && !result.ok) return;
    if (result.ok) {
      spool.deleteSealed(id);
      logger.info({ spoolId: id, peer: homeNode, attempts: attempts + 1 }, "queued mail relayed to its home node");
      return;
    }
    const delay = retryDelay(attempts + 1, this.options.retryBaseMs, PEER_LIMITS.relayRetryMaxMs);
    spool.rescheduleRelay(id, attempts + 1, Date.now() + delay);
    logger.info({ spoolId: id, peer: homeNode, code: result.error.code, delayMs: delay }, "relay to the home node failed; will retry");
  }
}
