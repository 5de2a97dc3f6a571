/**
 * A least-recently-used map bounded by the total cost of its values (characters,
 * bytes: whatever the caller measures). Used by the SQLite engine for data that
 * is read often and never changes in place under its key.
 *
 * Invariants:
 * - The total cost never exceeds `max`; a value costing more than `max` is
 *   never kept (and evicts nothing).
 * - A hit moves the entry to the young end; eviction starts at the old end.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; cost: number }>();
  private total = 0;

  constructor(private readonly max: number) {}

  /** Total cost of the values held. */
  get cost(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    // Map keeps insertion order: move a hit to the young end.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /** Keeps `value` if it fits at all, evicting the least recently used values to make room. */
  set(key: K, value: V, cost: number): void {
    this.delete(key);
    if (cost > this.max) return;
    this.entries.set(key, { value, cost });
    this.total += cost;
    for (const [k, old] of this.entries) {
      if (this.total <= this.max) break;
      this.entries.delete(k);
      this.total -= old.cost;
    }
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.total -= e.cost;
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}
