/**
 * The node↔edge tunnel wire format, version 1.
 *
 * Invariants:
 * - Every frame is one JSON text message carrying `v` (protocol version).
 *   A peer refuses frames of an unknown version with a `bad-frame` error, never
 *   by guessing.
 * - Requests carry an id unique per sender; the answer to a request carries the
 *   same id. Errors travel as values (`ok: false`), never as thrown exceptions
 *   across the wire.
 * - Heartbeats are the bare text frames "ping"/"pong" (not JSON), so the edge's
 *   Durable Object answers them without waking from hibernation.
 * - Method names and parameter/result shapes for each direction are listed in
 *   `TunnelMethods`; adding a method is backwards compatible, changing one
 *   needs a new version.
 */
import { z } from "zod";
import type { AliasRouteData, CredentialRecordData } from "./records.ts";

export const TUNNEL_PROTOCOL_VERSION = 1;
export const HEARTBEAT_PING = "ping";
export const HEARTBEAT_PONG = "pong";

/** The text a node signs to open a tunnel (see shared/tunnel/handshake.ts). */
export const HANDSHAKE_CONTEXT = "sealbox-tunnel-v1";

export const TunnelErrorSchema = z.object({ code: z.string(), message: z.string() });
export type TunnelErrorData = z.infer<typeof TunnelErrorSchema>;

const RequestFrameSchema = z.object({
  v: z.literal(TUNNEL_PROTOCOL_VERSION),
  type: z.literal("req"),
  id: z.string().min(1).max(64),
  method: z.string().min(1).max(64),
  params: z.unknown(),
});

const ResponseFrameSchema = z.union([
  z.object({ v: z.literal(TUNNEL_PROTOCOL_VERSION), type: z.literal("res"), id: z.string().min(1).max(64), ok: z.literal(true), result: z.unknown() }),
  z.object({ v: z.literal(TUNNEL_PROTOCOL_VERSION), type: z.literal("res"), id: z.string().min(1).max(64), ok: z.literal(false), error: TunnelErrorSchema }),
]);

const PushFrameSchema = z.object({
  v: z.literal(TUNNEL_PROTOCOL_VERSION),
  type: z.literal("push"),
  event: z.string().min(1).max(64),
  data: z.unknown(),
});

export const FrameSchema = z.union([RequestFrameSchema, ResponseFrameSchema, PushFrameSchema]);
export type FrameData = z.infer<typeof FrameSchema>;
export type RequestFrameData = z.infer<typeof RequestFrameSchema>;
export type ResponseFrameData = z.infer<typeof ResponseFrameSchema>;
export type PushFrameData = z.infer<typeof PushFrameSchema>;

const AddressParamsSchema = z.object({ address: z.string().min(3).max(320) });

/** Methods a node calls on the edge. */
export const NodeToEdgeMethods = {
  "credentials.lookup": AddressParamsSchema,
  "alias.resolve": AddressParamsSchema,
  "password.used": z.object({ passwordId: z.string().min(1).max(64) }),
  "mailbox.generation": z.object({ mailboxId: z.string().min(1).max(64), generation: z.number().int().nonnegative() }),
  // Peer links: where this node accepts peer links (announced after every connect) …
  "node.announce": z.object({ peerUrl: z.string().regex(/^wss?:\/\/[^\s]+$/).max(512) }),
  // … where another node accepts them, and the key it signs with.
  "node.lookup": z.object({ nodeId: z.string().min(1).max(64) }),
  // Mail arrived for a mailbox with no home node yet: place it on the asking node, first come.
  "mailbox.place": z.object({ mailboxId: z.string().min(1).max(64) }),
  // One webhook delivery outcome; `error` is a failure class ("HTTP 503", "TimeoutError"), never a body.
  "webhook.status": z.object({
    webhookId: z.string().min(1).max(64),
    outcome: z.enum(["success", "failure", "abandoned"]),
    error: z.string().max(200).optional(),
  }),
} as const;

/**
 * Methods one storage node calls on another over a peer link. The link is
 * authenticated both ways before any frame (see peer-handshake.ts); frames are
 * the same v1 frames as the tunnel's.
 */
export const PeerMethods = {
  // A sealed spool entry relayed to the mailbox's home node. Idempotent on `id`.
  "spool.relay": z.object({
    id: z.string().min(1).max(128),
    mailboxId: z.string().min(1).max(64),
    aliasId: z.string().min(1).max(64),
    receivedAt: z.number().int().nonnegative(),
    size: z.number().int().nonnegative(),
    /** The sealed bytes, base64. */
    sealed: z.string().min(1),
  }),
} as const;

export interface RelayEntryData {
  id: string;
  mailboxId: string;
  aliasId: string;
  /** Epoch ms. */
  receivedAt: number;
  size: number;
  sealed: string;
}

export interface PeerNodeData {
  nodeId: string;
  /** Ed25519 public key, base64. */
  publicKey: string;
  /** Where the node accepts peer links, or null when it never announced one. */
  peerUrl: string | null;
}

/** Methods the edge calls on a node. */
export const EdgeToNodeMethods = {
  "node.ping": z.object({}).strict(),
  "node.status": z.object({}).strict(),
  // Acknowledged invalidation: when the edge's API call returns, every connected
  // node has dropped what it cached for the address (a revoked password is dead).
  "address.changed": AddressParamsSchema,
} as const;

export interface NodeStatusData {
  nodeId: string;
  version: string;
  uptimeSeconds: number;
  /** Servers this node runs, with their ports. */
  listeners: { name: string; port: number }[];
}

export interface TunnelMethods {
  "credentials.lookup": { params: { address: string }; result: CredentialRecordData | null };
  "alias.resolve": { params: { address: string }; result: AliasRouteData | null };
  "password.used": { params: { passwordId: string }; result: { recorded: true } };
  "mailbox.generation": { params: { mailboxId: string; generation: number }; result: { recorded: true } };
  "node.announce": { params: { peerUrl: string }; result: { recorded: true } };
  "node.lookup": { params: { nodeId: string }; result: PeerNodeData | null };
  "mailbox.place": { params: { mailboxId: string }; result: { homeNode: string | null } };
  "spool.relay": { params: RelayEntryData; result: { stored: true } };
  "webhook.status": { params: { webhookId: string; outcome: "success" | "failure" | "abandoned"; error?: string }; result: { recorded: true } };
  "node.ping": { params: Record<string, never>; result: { pong: true; time: number } };
  "node.status": { params: Record<string, never>; result: NodeStatusData };
  "address.changed": { params: { address: string }; result: { invalidated: true } };
}

export type TunnelMethodName = keyof TunnelMethods;

/** Events the edge pushes to nodes. */
export const PushEvents = {
  "address.changed": z.object({ address: z.string() }),
} as const;

export type PushEventName = keyof typeof PushEvents;
export interface PushEventData {
  "address.changed": { address: string };
}

/** Parses one text frame. Returns null for anything that is not a valid v1 frame. */
export function parseFrame(text: string): FrameData | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = FrameSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

export function encodeFrame(frame: FrameData): string {
  return JSON.stringify(frame);
}
