/**
 * Credential records from the edge, cached briefly on the node.
 *
 * Invariants:
 * - An entry lives at most `ttlMs`; a push "address.changed" drops it at once,
 *   so a revoked password stops working within one round trip of the push.
 * - Unknown addresses are cached too (for a shorter time), so a flood of
 *   logins for made-up addresses does not become a flood of edge look-ups.
 * - Concurrent look-ups of one address share one request to the edge.
 * - A look-up that races with an invalidation is not cached (generation check),
 *   so a stale record can never be stored after the push that killed it.
 * - When the edge is unreachable the look-up fails with `EdgeUnavailableError`
 *   — it never turns into "unknown address".
 */
import type { CredentialRecordData } from "../../shared/tunnel/records.ts";
import { AUTH_LIMITS } from "../limits.ts";

export class EdgeUnavailableError extends Error {
  constructor(message = "the edge cannot be reached") {
    super(message);
    this.name = "EdgeUnavailableError";
  }
}

export type CredentialFetcher = (address: string) => Promise<CredentialRecordData | null>;

interface Entry {
  record: CredentialRecordData | null;
  expiresAt: number;
}

export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<CredentialRecordData | null>>();
  private readonly generations = new Map<string, number>();
  private readonly fetcher: CredentialFetcher;
  private readonly ttlMs: number;

  constructor(fetcher: CredentialFetcher, ttlMs: number) {
    this.fetcher = fetcher;
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.entries.size;
  }

  has(address: string): boolean {
    return this.entries.has(normalizeAddress(address));
  }

  async get(address: string): Promise<CredentialRecordData | null> {
    const key = normalizeAddress(address);
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > Date.now()) return entry.record;
    if (entry) this.entries.delete(key);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const generation = this.generations.get(key) ?? 0;
    const request = this.fetcher(key).then(
      (record) => {
        if ((this.generations.get(key) ?? 0) === generation) {
          const ttl = record ? this.ttlMs : Math.min(this.ttlMs, AUTH_LIMITS.negativeCacheMs);
          this.remember(key, { record, expiresAt: Date.now() + ttl });
        }
        return record;
      },
    );
    this.inFlight.set(key, request);
    try {
      return await request;
    } finally {
      this.inFlight.delete(key);
    }
  }

  invalidate(address: string): void {
    const key = normalizeAddress(address);
    this.entries.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    if (this.generations.size > AUTH_LIMITS.maxCachedAddresses) this.generations.clear();
  }

  clear(): void {
    for (const key of this.entries.keys()) this.invalidate(key);
    this.entries.clear();
  }

  private remember(key: string, entry: Entry): void {
    if (this.entries.size >= AUTH_LIMITS.maxCachedAddresses) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, entry);
  }
}

/** Addresses compare case-insensitively (the local part is lower-cased too: Sealbox aliases are). */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}
