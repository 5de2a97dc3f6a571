/**
 * The tunnel handshake: how a storage node proves who it is when it dials the edge.
 *
 * Each node holds an Ed25519 secret key; the edge stores only the public half
 * (registered by an operator). On connect the node sends, as request headers,
 * its id, the current time, a fresh random nonce and a signature over all three.
 * The edge accepts only if the signature verifies, the time is within
 * `HANDSHAKE_MAX_SKEW_MS` of its clock, and the nonce was never seen for that
 * node within the window (checked in the node's Durable Object, which is
 * single-threaded per node, so there is no race). A captured handshake is
 * therefore useless once used or once stale, and the edge holds no secret.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { HANDSHAKE_CONTEXT } from "./messages.ts";

export const HANDSHAKE_MAX_SKEW_MS = 60_000;

export const HANDSHAKE_HEADERS = {
  node: "x-sealbox-node",
  timestamp: "x-sealbox-timestamp",
  nonce: "x-sealbox-nonce",
  signature: "x-sealbox-signature",
} as const;

export interface HandshakeData {
  nodeId: string;
  timestamp: number;
  nonce: string;
  signature: string;
}

const encoder = new TextEncoder();

/**
 * The signed text. `context` says what the handshake opens: the tunnel
 * (`HANDSHAKE_CONTEXT`) or a peer link to one named node (see
 * peer-handshake.ts), so a handshake captured on one kind of link or sent to
 * one peer is worthless on any other.
 */
function message(nodeId: string, timestamp: number, nonce: string, context: string): Uint8Array {
  return encoder.encode(`${context}\n${nodeId}\n${timestamp}\n${nonce}`);
}

function toB64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromB64(text: string): Uint8Array | null {
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function generateNodeKeyPair(): { secretKey: string; publicKey: string } {
  const secret = ed25519.utils.randomSecretKey();
  return { secretKey: toB64(secret), publicKey: toB64(ed25519.getPublicKey(secret)) };
}

export function signHandshake(nodeId: string, secretKeyB64: string, now = Date.now(), context = HANDSHAKE_CONTEXT): HandshakeData {
  const secret = fromB64(secretKeyB64);
  if (!secret || secret.length !== 32) throw new Error("node secret key must be 32 bytes of base64");
  const nonceBytes = crypto.getRandomValues(new Uint8Array(18));
  const nonce = toB64(nonceBytes).replace(/\+/g, "-").replace(/\//g, "_");
  const signature = toB64(ed25519.sign(message(nodeId, now, nonce, context), secret));
  return { nodeId, timestamp: now, nonce, signature };
}

export function handshakeHeaders(data: HandshakeData): Record<string, string> {
  return {
    [HANDSHAKE_HEADERS.node]: data.nodeId,
    [HANDSHAKE_HEADERS.timestamp]: String(data.timestamp),
    [HANDSHAKE_HEADERS.nonce]: data.nonce,
    [HANDSHAKE_HEADERS.signature]: data.signature,
  };
}

export function readHandshakeHeaders(get: (name: string) => string | null): HandshakeData | null {
  const nodeId = get(HANDSHAKE_HEADERS.node);
  const timestamp = Number(get(HANDSHAKE_HEADERS.timestamp));
  const nonce = get(HANDSHAKE_HEADERS.nonce);
  const signature = get(HANDSHAKE_HEADERS.signature);
  if (!nodeId || !nonce || !signature || !Number.isSafeInteger(timestamp)) return null;
  if (nodeId.length > 64 || nonce.length > 64 || signature.length > 128) return null;
  return { nodeId, timestamp, nonce, signature };
}

export type HandshakeVerdict = "ok" | "bad-signature" | "stale";

/** Checks signature and freshness. Single use is the caller's job (it keeps the nonces). */
export function verifyHandshake(data: HandshakeData, publicKeyB64: string, now = Date.now(), context = HANDSHAKE_CONTEXT): HandshakeVerdict {
  const publicKey = fromB64(publicKeyB64);
  const signature = fromB64(data.signature);
  if (!publicKey || publicKey.length !== 32 || !signature || signature.length !== 64) return "bad-signature";
  let valid = false;
  try {
    valid = ed25519.verify(signature, message(data.nodeId, data.timestamp, data.nonce, context), publicKey);
  } catch {
    valid = false;
  }
  if (!valid) return "bad-signature";
  if (Math.abs(now - data.timestamp) > HANDSHAKE_MAX_SKEW_MS) return "stale";
  return "ok";
}
