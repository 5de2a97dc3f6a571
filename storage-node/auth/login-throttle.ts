/**
 * Throttling of failed logins, per client IP and per address.
 *
 * Invariants:
 * - Counts only failures; a success never resets another party's counters
 *   (a correct login from one IP does not lift the block on another).
 * - Windows slide: each key keeps at most the timestamps inside its window,
 *   and the maps are bounded (oldest keys evicted), so memory stays flat under
 *   a flood of made-up addresses.
 * - A blocked attempt is answered exactly like a wrong password: the caller
 *   cannot tell "throttled" from "wrong".
 */
import { AUTH_LIMITS } from "../limits.ts";

class SlidingCounter {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  count(key: string, now: number): number {
    const list = this.hits.get(key);
    if (!list) return 0;
    while (list.length > 0 && list[0] <= now - this.windowMs) list.shift();
    if (list.length === 0) this.hits.delete(key);
    return list.length;
  }

  add(key: string, now: number): void {
    let list = this.hits.get(key);
    if (!list) {
      if (this.hits.size >= this.maxKeys) {
        const oldest = this.hits.keys().next().value;
        if (oldest !== undefined) this.hits.delete(oldest);
      }
      list = [];
      this.hits.set(key, list);
    }
    list.push(now);
    if (list.length > 1024) list.splice(0, list.length - 1024);
  }
}

export class LoginThrottle {
  private readonly byIp = new SlidingCounter(AUTH_LIMITS.failureWindowMs, AUTH_LIMITS.maxTrackedKeys);
  private readonly byAddress = new SlidingCounter(AUTH_LIMITS.failureWindowMs, AUTH_LIMITS.maxTrackedKeys);

  /** True when this attempt must be refused without checking the password. */
  isBlocked(ip: string, address: string, now = Date.now()): boolean {
    return this.byIp.count(ip, now) >= AUTH_LIMITS.maxFailuresPerIp || this.byAddress.count(address, now) >= AUTH_LIMITS.maxFailuresPerAddress;
  }

  recordFailure(ip: string, address: string, now = Date.now()): void {
    this.byIp.add(ip, now);
    this.byAddress.add(address, now);
  }
}
