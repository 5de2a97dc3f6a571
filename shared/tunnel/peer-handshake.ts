/**
 * The peer-link handshake between two storage nodes (DESIGN §3: signed,
 * timestamped, single-use challenges, never a bare shared token).
 *
 * 1. The dialling node sends the tunnel's handshake headers (its id, time,
 *    nonce, Ed25519 signature — shared/tunnel/handshake.ts) signed under
 *    `peerContext(targetNodeId)`, so the handshake names the one node it is
 *    for: it cannot be replayed to another peer, nor to the edge's tunnel.
 * 2. The accepting node looks up the dialler's public key at the edge,
 *    verifies the signature and the clock skew, and refuses a nonce it has
 *    already accepted (it keeps them for twice the skew window).
 * 3. The accepting node proves itself in the 101 answer: a signature with its
 *    own key over (its id, the dialler's id, the dialler's nonce). The
 *    dialler checks it against the key the edge gave it for the node it
 *    meant to reach before it sends a single frame, so mail is never handed
 *    to an impostor that merely answers on the right address.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { fromBase64, toBase64, utf8 } from "../crypto/encoding.ts";

/** Signed-text context of a dial to `targetNodeId`. */
export function peerContext(targetNodeId: string): string {
  return `sealbox-peer-v1\n${targetNodeId}`;
}

/** Response header carrying the accepting node's proof. */
export const PEER_PROOF_HEADER = "x-sealbox-peer-proof";

function acceptText(acceptorId: string, diallerId: string, diallerNonce: string): Uint8Array {
  return utf8(`sealbox-peer-accept-v1\n${acceptorId}\n${diallerId}\n${diallerNonce}`);
}

/** The accepting node's signature over the dialler's challenge (base64). */
export function signPeerAccept(acceptorId: string, acceptorSecretKeyB64: string, diallerId: string, diallerNonce: string): string {
  const secret = fromBase64(acceptorSecretKeyB64);
  if (secret.length !== 32) throw new Error("node secret key must be 32 bytes of base64");
  return toBase64(ed25519.sign(acceptText(acceptorId, diallerId, diallerNonce), secret));
}

/** True when `proof` is the accepting node's signature over this dial's challenge. */
export function verifyPeerAccept(proof: string, acceptorId: string, acceptorPublicKeyB64: string, diallerId: string, diallerNonce: string): boolean {
  try {
    const signature = fromBase64(proof);
    const publicKey = fromBase64(acceptorPublicKeyB64);
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    return ed25519.verify(signature, acceptText(acceptorId, diallerId, diallerNonce), publicKey);
  } catch {
    return false;
  }
}
