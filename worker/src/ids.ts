/**
 * Random identifiers. Ids are never derived from names or addresses (mailbox files on the
 * nodes are named by mailbox id, so an id must not reveal the address).
 */
import { randomBytes, toHex } from "../../shared/crypto/encoding.ts";

/** A prefixed random id with 128 bits of entropy, e.g. `dom_3f…`. */
export function newId(prefix: "acc" | "tok" | "dom" | "ali" | "mbx" | "pwd" | "whk" | "node"): string {
  return `${prefix}_${toHex(randomBytes(16))}`;
}

/** Current time as an ISO-8601 UTC string (the format of every D1 timestamp). */
export function nowIso(now: number = Date.now()): string {
  return new Date(now).toISOString();
}
