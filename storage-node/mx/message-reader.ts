/**
 * Reads one SMTP DATA payload (already dot-unstuffed by smtp-server) into
 * memory, within the size limit.
 *
 * Invariants:
 * - Never holds more than `maxBytes`: past the limit the rest is counted and
 *   dropped, and the result says `tooBig` (the MX answers 552, RFC 1870 §6.3).
 * - Any line ending other than CRLF (a bare LF or a bare CR) marks the
 *   message `bareLineEnding`. Such a message is refused: a bare "\n.\n" or
 *   "\n.\r\n" is how SMTP smuggling ends DATA early in one server and not in
 *   the next (RFC 5321 §2.3.8: CR and LF appear only together as CRLF). The
 *   MX itself only ends DATA on CRLF.CRLF, so one DATA is always one message.
 * - Every byte kept is first reserved from the server-wide budget; when the
 *   budget is spent the rest is counted and dropped and the result says
 *   `overBudget` (452 4.3.1), so many large transfers cannot exhaust memory.
 */
import type { Readable } from "node:stream";

export interface ReadMessageData {
  /** The bytes, or null when the message was too big or malformed. */
  raw: Uint8Array | null;
  size: number;
  tooBig: boolean;
  bareLineEnding: boolean;
  overBudget: boolean;
}

const CR = 0x0d;
const LF = 0x0a;

export async function readMessage(stream: Readable, maxBytes: number, reserve: (bytes: number) => boolean = () => true): Promise<ReadMessageData> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  let bare = false;
  let overBudget = false;
  let previous = -1;
  for await (const value of stream) {
    const chunk = value as Buffer;
    if (!bare) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (byte === LF && previous !== CR) bare = true;
        else if (previous === CR && byte !== LF) bare = true;
        previous = byte;
        if (bare) break;
      }
    }
    size += chunk.length;
    if (size > maxBytes) {
      tooBig = true;
      chunks.length = 0;
    } else if (!tooBig && !bare && !overBudget) {
      if (reserve(chunk.length)) chunks.push(chunk);
      else {
        overBudget = true;
        chunks.length = 0;
      }
    }
  }
  // A message must end with CRLF (smtp-server keeps the CRLF before the final dot).
  if (!bare && previous === CR) bare = true;
  const ok = !tooBig && !bare && !overBudget;
  return { raw: ok ? Buffer.concat(chunks, size) : null, size, tooBig, bareLineEnding: bare, overBudget };
}
