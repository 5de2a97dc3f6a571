/**
 * Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) unless the client
 * enabled UTF8=ACCEPT (RFC 6855 §3), in which case names are plain UTF-8.
 *
 * Invariants:
 * - `decodeModifiedUtf7(encodeModifiedUtf7(name)) === name` for every string of
 *   well-formed UTF-16.
 * - Decoding is strict: a name that is not canonical modified UTF-7 (printable
 *   ASCII inside a shift, dangling bits, unpaired surrogates, missing "-") is
 *   refused rather than guessed at, so one folder never has two wire names.
 * - "INBOX" is case-insensitive (RFC 3501 §5.1): any case is normalised.
 */

export class MailboxNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MailboxNameError";
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

export function encodeModifiedUtf7(name: string): string {
  let out = "";
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const bytes: number[] = [];
    for (const unit of pending) bytes.push(unit >> 8, unit & 0xff);
    let bits = 0;
    let value = 0;
    out += "&";
    for (const byte of bytes) {
      value = (value << 8) | byte;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += B64[(value >> bits) & 0x3f];
      }
      value &= (1 << bits) - 1;
    }
    if (bits > 0) out += B64[(value << (6 - bits)) & 0x3f];
    out += "-";
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0x20 && unit <= 0x7e) {
      flush();
      out += unit === 0x26 ? "&-" : name[i];
    } else {
      pending.push(unit);
    }
  }
  flush();
  return out;
}

export function decodeModifiedUtf7(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const char = text.charCodeAt(i);
    if (char < 0x20 || char > 0x7e) throw new MailboxNameError("Invalid character in mailbox name");
    if (char !== 0x26) {
      out += text[i++];
      continue;
    }
    const close = text.indexOf("-", i + 1);
    if (close < 0) throw new MailboxNameError("Unterminated modified UTF-7 sequence");
    if (close === i + 1) {
      out += "&";
      i = close + 1;
      continue;
    }
    let bits = 0;
    let value = 0;
    const units: number[] = [];
    let bytes: number[] = [];
    for (let j = i + 1; j < close; j++) {
      const digit = B64.indexOf(text[j]);
      if (digit < 0) throw new MailboxNameError("Invalid modified UTF-7 sequence");
      value = (value << 6) | digit;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((value >> bits) & 0xff);
        value &= (1 << bits) - 1;
        if (bytes.length === 2) {
          units.push((bytes[0] << 8) | bytes[1]);
          bytes = [];
        }
      }
    }
    if (bytes.length !== 0 || value !== 0 || bits >= 6) throw new MailboxNameError("Invalid modified UTF-7 padding");
    const decoded = String.fromCharCode(...units);
    for (const unit of units) {
      if (unit >= 0x20 && unit <= 0x7e) throw new MailboxNameError("Non-canonical modified UTF-7");
    }
    if (!isWellFormedUtf16(units)) throw new MailboxNameError("Invalid UTF-16 in mailbox name");
    out += decoded;
    i = close + 1;
    // Two adjacent shifts are not canonical: they would have been one.
    if (text[i] === "&" && text[i + 1] !== "-") throw new MailboxNameError("Non-canonical modified UTF-7");
  }
  return out;
}

/** Folder names use "/" as separator; the first level "INBOX" is case-insensitive. */
export function normalizeMailboxName(name: string): string {
  const slash = name.indexOf("/");
  const first = slash < 0 ? name : name.slice(0, slash);
  if (first.toUpperCase() === "INBOX") return "INBOX" + (slash < 0 ? "" : name.slice(slash));
  return name;
}

/** Decodes a mailbox name argument as the client sent it. */
export function decodeMailboxName(raw: Buffer, utf8Accept: boolean): string {
  const hasHighBit = raw.some((byte) => byte >= 0x80);
  let name: string;
  if (hasHighBit) {
    // RFC 6855 §3: UTF-8 names; accepted only if well-formed.
    const text = new TextDecoder("utf-8", { fatal: false }).decode(raw);
    if (text.includes("\uFFFD") || !utf8Accept) throw new MailboxNameError("Mailbox name is not valid here");
    name = text;
  } else {
    const text = raw.toString("latin1");
    name = utf8Accept ? text : decodeModifiedUtf7(text);
  }
  if (name.length === 0) throw new MailboxNameError("Empty mailbox name");
  if ([...name].some((char) => char.charCodeAt(0) < 0x20 || char === "\u007f")) {
    throw new MailboxNameError("Invalid character in mailbox name");
  }
  return normalizeMailboxName(name);
}

export function encodeMailboxName(name: string, utf8Accept: boolean): Buffer {
  return utf8Accept ? Buffer.from(name, "utf8") : Buffer.from(encodeModifiedUtf7(name), "latin1");
}

function isWellFormedUtf16(units: readonly number[]): boolean {
  for (let i = 0; i < units.length; i++) {
    const unit = units[i];
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = units[i + 1];
      if (next === undefined || next < 0xdc00 || next > 0xdfff) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return false;
  }
  return true;
}
