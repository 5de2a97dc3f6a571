/**
 * Pushes "this address changed" to every storage node with a live tunnel, so
 * node caches drop the entry at once. Best effort by design: a node that is
 * offline misses the push but its cache entries are short-lived, and it
 * re-fetches on its next look-up.
 */
import type { EdgeBindings } from "../env.ts";

export async function notifyAddressChanged(env: EdgeBindings, address: string): Promise<void> {
  const { results } = await env.DB.prepare("SELECT id FROM nodes").all<{ id: string }>();
  await Promise.allSettled(
    results.map((row) => {
      const stub = env.NODE_TUNNEL.get(env.NODE_TUNNEL.idFromName(row.id)) as DurableObjectStub<import("./node-tunnel.ts").NodeTunnel>;
      return stub.pushEvent("address.changed", { address: address.toLowerCase() });
    }),
  );
}
