/**
 * Where other storage nodes are and which key each signs with, as the edge
 * knows it (`node.lookup` over the tunnel), cached briefly.
 *
 * Invariants:
 * - The only source of a peer's public key is the edge's node registry; a
 *   peer never vouches for itself.
 * - Answers (including "no such node") are cached for `cacheMs`; concurrent
 *   look-ups of one node share one call. A failed call (edge unreachable) is
 *   not cached and surfaces as `PeerUnavailableError`, never as "unknown".
 * - `forget(nodeId)` drops a cached entry, e.g. after a peer's proof failed,
 *   so a re-registered key or a moved URL is picked up at the next dial.
 */
import type { PeerNodeData } from "../../shared/tunnel/messages.ts";
import { PEER_LIMITS } from "../limits.ts";

export class PeerUnavailableError extends Error {
  override name = "PeerUnavailableError";
}

export type PeerLookup = (nodeId: string) => Promise<PeerNodeData | null>;

interface CachedPeer {
  value: PeerNodeData | null;
  expiresAt: number;
}

export class PeerDirectory {
  private readonly cache = new Map<string, CachedPeer>();
  private readonly inFlight = new Map<string, Promise<PeerNodeData | null>>();

  constructor(
    private readonly fetchPeer: PeerLookup,
    private readonly cacheMs: number = PEER_LIMITS.lookupCacheMs,
  ) {}

  async lookup(nodeId: string): Promise<PeerNodeData | null> {
    const cached = this.cache.get(nodeId);
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    const running = this.inFlight.get(nodeId);
    if (running) return running;
    const call = this.fetchPeer(nodeId)
      .then((value) => {
        if (this.cache.size > 10_000) this.cache.clear();
        this.cache.set(nodeId, { value, expiresAt: Date.now() + this.cacheMs });
        return value;
      })
      .finally(() => this.inFlight.delete(nodeId));
    this.inFlight.set(nodeId, call);
    return call;
  }

  forget(nodeId: string): void {
    this.cache.delete(nodeId);
  }

  clear(): void {
    this.cache.clear();
  }
}
