/**
 * Inbound mail on the node: the MX, the sealed spool, the spool drain on
 * mailbox open, forwarding and webhook queues. Started by node.ts before the
 * client protocols, because it may wrap the mailbox store (spool drain).
 */
import type { AuthenticatedData } from "./auth/types.ts";
import type { CredentialCache } from "./auth/credential-cache.ts";
import type { Logger } from "./log.ts";
import type { NodeSettings } from "./settings.ts";
import type { MailStore } from "./store/types.ts";
import type { TunnelClient } from "./tunnel/tunnel-client.ts";

export interface InboundContext {
  settings: NodeSettings;
  logger: Logger;
  tunnel: TunnelClient;
  cache: CredentialCache;
  store: MailStore;
  tls: { key: string; cert: string };
  listeners: { name: string; port: number }[];
}

export interface InboundServices {
  /** The store the client protocols must use (may wrap the given one). */
  store: MailStore;
  /** Called after every successful login, with the unwrapped key in memory. */
  onLogin(auth: AuthenticatedData): void;
  /** Called when the edge pushes "address.changed". */
  onAddressChanged(address: string): void;
  close(): Promise<void>;
}

/** Placeholder until the MX lands: no inbound services, the store unchanged. */
export async function startInbound(context: InboundContext): Promise<InboundServices> {
  return {
    store: context.store,
    onLogin: () => undefined,
    onAddressChanged: () => undefined,
    close: async () => undefined,
  };
}
