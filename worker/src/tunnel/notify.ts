/**
 * Tells every storage node with a live tunnel that an address changed, and
 * waits for each to acknowledge (bounded by a short timeout), so that when the
 * API call that changed it returns, no connected node still accepts a revoked
 * password. A node that is offline cannot be told, but it empties its whole
 * cache whenever its tunnel (re)connects, and entries are short-lived anyway.
 */
import type { EdgeBindings } from "../env.ts";

const NOTIFY_TIMEOUT_MS = 2_000;

export async function notifyAddressChanged(env: EdgeBindings, address: string): Promise<void> {
  const { results } = await env.DB.prepare("SELECT id FROM nodes").all<{ id: string }>();
  await Promise.allSettled(
    results.map((row) => {
      const stub = env.NODE_TUNNEL.get(env.NODE_TUNNEL.idFromName(row.id)) as DurableObjectStub<import("./node-tunnel.ts").NodeTunnel>;
      return stub.callNode("address.changed", { address: address.toLowerCase() }, NOTIFY_TIMEOUT_MS);
    }),
  );
}
