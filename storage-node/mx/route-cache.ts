/**
 * Recipient routes for the MX, resolved through the edge (`alias.resolve`)
 * and cached.
 *
 * Invariants:
 * - A known route is cached for `MX_LIMITS.routeCacheMs`, "no such alias" for
 *   `negativeRouteCacheMs`; a push (`address.changed`) or a tunnel reconnect
 *   drops entries at once.
 * - An edge that cannot answer (disconnected, timeout, error) is never cached
 *   and surfaces as `RouteUnavailableError` (SMTP 451 4.4.3).
 * - Concurrent look-ups of one address share one call.
 * - At most `maxCachedRoutes` entries; the oldest go first.
 */
import type { AliasRouteData } from "../../shared/tunnel/records.ts";
import { normalizeAddress } from "../auth/credential-cache.ts";
import { MX_LIMITS } from "../limits.ts";

export class RouteUnavailableError extends Error {
  override name = "RouteUnavailableError";
}

export type RouteFetcher = (address: string) => Promise<AliasRouteData | null>;

interface CacheEntry {
  route: AliasRouteData | null;
  expiresAt: number;
}

export class RouteCache {
  private readonly fetcher: RouteFetcher;
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<AliasRouteData | null>>();
  /** Bumped by every invalidation, so a look-up that started before it is not cached. */
  private epoch = 0;

  constructor(fetcher: RouteFetcher) {
    this.fetcher = fetcher;
  }

  /** The route, or null for an unknown address. Throws RouteUnavailableError when the edge cannot answer. */
  async resolve(address: string): Promise<AliasRouteData | null> {
    const key = normalizeAddress(address);
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > now) return cached.route;
    const running = this.inFlight.get(key);
    if (running) return running;
    const epoch = this.epoch;
    const lookup = this.fetcher(key).then((route) => {
      if (epoch === this.epoch) {
        this.entries.delete(key);
        this.entries.set(key, { route, expiresAt: Date.now() + (route ? MX_LIMITS.routeCacheMs : MX_LIMITS.negativeRouteCacheMs) });
        while (this.entries.size > MX_LIMITS.maxCachedRoutes) {
          const oldest = this.entries.keys().next().value;
          if (oldest === undefined) break;
          this.entries.delete(oldest);
        }
      }
      return route;
    });
    this.inFlight.set(key, lookup);
    try {
      return await lookup;
    } finally {
      this.inFlight.delete(key);
    }
  }

  invalidate(address: string): void {
    this.epoch++;
    this.entries.delete(normalizeAddress(address));
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
  }
}
