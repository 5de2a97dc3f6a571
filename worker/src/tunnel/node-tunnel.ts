/**
 * NodeTunnel: one Durable Object per storage node, holding that node's
 * WebSocket with the hibernation API.
 *
 * Invariants:
 * - At most one live socket per node: a new authenticated connection replaces
 *   (closes) the old one.
 * - A handshake nonce is accepted once. Nonces are remembered for twice the
 *   allowed clock skew, longer than any handshake stays fresh, so a replay is
 *   refused whether it arrives early or late.
 * - Heartbeat "ping" frames are answered by the runtime ("pong") without waking
 *   the object, so idle tunnels cost nothing.
 * - The object never sees a password or a mailbox key: it relays directory
 *   records (wrapped keys only) and status.
 */
import { DurableObject } from "cloudflare:workers";
import type { EdgeBindings } from "../env.ts";
import { announceNode, lookupCredentials, lookupNode, placeMailbox, recordGeneration, recordPasswordUse, resolveAlias } from "../directory.ts";
import { recordWebhookStatus } from "../aliases/webhook-status.ts";
import { HANDSHAKE_MAX_SKEW_MS, readHandshakeHeaders } from "../../../shared/tunnel/handshake.ts";
import { HEARTBEAT_PING, HEARTBEAT_PONG, NodeToEdgeMethods, type TunnelMethodName, type TunnelMethods } from "../../../shared/tunnel/messages.ts";
import { RpcPeer, type RpcResult } from "../../../shared/tunnel/rpc-peer.ts";

interface SocketAttachment {
  nodeId: string;
}

const NONCE_PREFIX = "nonce:";

export class NodeTunnel extends DurableObject<EdgeBindings> {
  private readonly peers = new Map<WebSocket, RpcPeer>();

  constructor(ctx: DurableObjectState, env: EdgeBindings) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
  }

  /** Accepts a node's WebSocket. The worker has already verified the signature and freshness. */
  override async fetch(request: Request): Promise<Response> {
    const handshake = readHandshakeHeaders((name) => request.headers.get(name));
    if (!handshake) return new Response("bad handshake", { status: 400 });
    const key = NONCE_PREFIX + handshake.nonce;
    if ((await this.ctx.storage.get(key)) !== undefined) {
      return Response.json({ error: { code: "handshake-replayed", message: "handshake refused" } }, { status: 401 });
    }
    await this.ctx.storage.put(key, handshake.timestamp);
    await this.forgetOldNonces();

    for (const old of this.ctx.getWebSockets()) {
      try {
        old.close(4000, "replaced by a newer connection");
      } catch {
        // already closing
      }
      this.peers.get(old)?.fail();
      this.peers.delete(old);
    }
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ nodeId: handshake.nodeId } satisfies SocketAttachment);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      ws.close(1003, "text frames only");
      return;
    }
    const accepted = await this.peerFor(ws).receive(message);
    if (!accepted) ws.close(1007, "invalid frame");
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.peers.get(ws)?.fail();
    this.peers.delete(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.peers.get(ws)?.fail();
    this.peers.delete(ws);
  }

  /** RPC from the worker: is a node connected right now? */
  async connected(): Promise<boolean> {
    return this.ctx.getWebSockets().length > 0;
  }

  /** RPC from the worker: calls a method on the node. */
  async callNode<M extends TunnelMethodName>(method: M, params: TunnelMethods[M]["params"], timeoutMs?: number): Promise<RpcResult<TunnelMethods[M]["result"]>> {
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return { ok: false, error: { code: "node-offline", message: "the node is not connected" } };
    return this.peerFor(ws).call(method, params, timeoutMs);
  }

  /** RPC from the worker: pushes an event to the node, if connected. Returns whether it was sent. */
  async pushEvent(event: string, data: unknown): Promise<boolean> {
    const ws = this.ctx.getWebSockets()[0];
    if (!ws) return false;
    try {
      this.peerFor(ws).push(event, data);
      return true;
    } catch {
      return false;
    }
  }

  private peerFor(ws: WebSocket): RpcPeer {
    let peer = this.peers.get(ws);
    if (peer) return peer;
    const { nodeId } = ws.deserializeAttachment() as SocketAttachment;
    const db = this.env.DB;
    peer = new RpcPeer({
      send: (text) => ws.send(text),
      idPrefix: "e",
      schemas: NodeToEdgeMethods,
      handlers: {
        "credentials.lookup": ({ address }) => lookupCredentials(db, address, nodeId),
        "alias.resolve": ({ address }) => resolveAlias(db, address),
        "password.used": async ({ passwordId }) => {
          await recordPasswordUse(db, passwordId, nodeId);
          return { recorded: true };
        },
        "mailbox.generation": async ({ mailboxId, generation }) => {
          await recordGeneration(db, mailboxId, generation, nodeId);
          return { recorded: true };
        },
        "node.announce": async ({ peerUrl }) => {
          await announceNode(db, nodeId, peerUrl);
          return { recorded: true };
        },
        "node.lookup": ({ nodeId: other }) => lookupNode(db, other),
        "mailbox.place": async ({ mailboxId }) => ({ homeNode: await placeMailbox(db, mailboxId, nodeId) }),
        "webhook.status": async ({ webhookId, outcome, error }) => {
          await recordWebhookStatus(db, webhookId, outcome, error);
          return { recorded: true };
        },
      },
    });
    this.peers.set(ws, peer);
    return peer;
  }

  private async forgetOldNonces(): Promise<void> {
    const horizon = Date.now() - 2 * HANDSHAKE_MAX_SKEW_MS;
    const entries = await this.ctx.storage.list<number>({ prefix: NONCE_PREFIX });
    const stale = [...entries].filter(([, timestamp]) => timestamp < horizon).map(([key]) => key);
    if (stale.length > 0) await this.ctx.storage.delete(stale);
  }
}
