/**
 * Binary strings: one JS char per byte (latin1), used for header values so
 * 8-bit bytes survive untouched until the IMAP formatter writes them back.
 *
 * Invariants:
 * - bytesToBinary / binaryToBytes are exact inverses for every byte value.
 * - Only bounded slices are ever converted, never a whole message.
 */
import { Buffer } from "node:buffer";

export function bytesToBinary(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString("latin1");
}

export function binaryToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "latin1"));
}
