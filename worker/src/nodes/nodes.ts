/**
 * The storage-node registry: which nodes may open a tunnel, and with which Ed25519 key.
 *
 * Invariants:
 * - A registered public key is a valid Ed25519 point (32 bytes, canonical base64).
 * - A node that is home to any mailbox cannot be deleted: its mailboxes would otherwise be
 *   re-placed on another node that does not hold their files. Move them first.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { fromBase64 } from "../../../shared/crypto/encoding.ts";
import { ApiError } from "../errors.ts";
import { newId, nowIso } from "../ids.ts";

export interface RegisterNodeOptions {
  label: string;
  /** Ed25519 public key, base64. */
  publicKey: string;
}

export interface NodeData {
  id: string;
  label: string;
  publicKey: string;
  createdAt: string;
  lastSeenAt: string | null;
}

interface NodeRow {
  id: string;
  label: string;
  public_key: string;
  created_at: string;
  last_seen_at: string | null;
}

/** True when `text` is canonical base64 of a valid Ed25519 public key. */
export function isEd25519PublicKey(text: string): boolean {
  try {
    const bytes = fromBase64(text);
    if (bytes.length !== 32) return false;
    ed25519.Point.fromBytes(bytes);
    return true;
  } catch {
    return false;
  }
}

export async function registerNode(db: D1Database, options: RegisterNodeOptions): Promise<{ id: string }> {
  if (!isEd25519PublicKey(options.publicKey)) {
    throw new ApiError(400, "invalid-public-key", "publicKey must be a base64 Ed25519 public key");
  }
  const id = newId("node");
  await db
    .prepare("INSERT INTO nodes (id, label, public_key, created_at) VALUES (?, ?, ?, ?)")
    .bind(id, options.label, options.publicKey, nowIso())
    .run();
  return { id };
}

function toNodeData(row: NodeRow): NodeData {
  return {
    id: row.id,
    label: row.label,
    publicKey: row.public_key,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
  };
}

export async function listNodes(db: D1Database): Promise<NodeData[]> {
  const { results } = await db.prepare("SELECT * FROM nodes ORDER BY created_at, id").all<NodeRow>();
  return results.map(toNodeData);
}

export async function deleteNode(db: D1Database, id: string): Promise<void> {
  const homed = await db.prepare("SELECT 1 FROM aliases WHERE home_node = ? LIMIT 1").bind(id).first();
  if (homed !== null) {
    throw new ApiError(409, "node-in-use", "The node is home to mailboxes; move them before deleting it");
  }
  const result = await db.prepare("DELETE FROM nodes WHERE id = ?").bind(id).run();
  if (result.meta.changes === 0) throw new ApiError(404, "node-not-found", "No such node");
}
