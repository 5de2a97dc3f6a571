/**
 * Collects an append body (bytes or a stream of chunks) while enforcing the
 * message size limit as the bytes arrive.
 *
 * Invariant: a body over STORE_MAX_MESSAGE_BYTES is refused with "too-big" as soon
 * as the limit is crossed, without reading the rest into memory.
 */

import { STORE_MAX_MESSAGE_BYTES } from "../limits.ts";
import { StoreError, type MessageBody } from "./types.ts";

export async function collectBody(body: MessageBody): Promise<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.byteLength > STORE_MAX_MESSAGE_BYTES) throw new StoreError("too-big", "message exceeds the size limit");
    if (body.byteLength === 0) throw new StoreError("invalid", "empty message");
    return body;
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > STORE_MAX_MESSAGE_BYTES) throw new StoreError("too-big", "message exceeds the size limit");
    parts.push(chunk);
  }
  if (total === 0) throw new StoreError("invalid", "empty message");
  return parts.length === 1 ? parts[0] : new Uint8Array(Buffer.concat(parts));
}
