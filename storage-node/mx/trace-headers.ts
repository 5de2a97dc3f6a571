/**
 * The trace header the MX prepends (RFC 5321 §4.4, RFC 5322 §3.6.7).
 *
 * Invariants:
 * - Only the client's EHLO name, its IP and our hostname appear: never the
 *   recipients ("for" clause left out so Bcc recipients stay private).
 * - Client-supplied text is reduced to printable ASCII without spaces or
 *   parentheses, so it can neither fold nor inject a header line.
 */

export interface ReceivedHeaderOptions {
  helo: string;
  ip: string;
  hostname: string;
  id: string;
  secure: boolean;
  utf8: boolean;
  date: Date;
}

function clean(text: string, max = 255): string {
  return text.replace(/[^\x21-\x27\x2a-\x7e]/g, "").slice(0, max) || "unknown";
}

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(date: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${days[date.getUTCDay()]}, ${date.getUTCDate()} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

export function receivedHeader(options: ReceivedHeaderOptions): string {
  // RFC 3848 / RFC 6531 §3.7.3 "with" protocol names.
  const protocol = (options.utf8 ? "UTF8SMTP" : "ESMTP") + (options.secure ? "S" : "");
  return (
    `Received: from ${clean(options.helo)} ([${clean(options.ip, 64)}])\r\n` +
    `\tby ${clean(options.hostname)} (Sealbox) with ${protocol} id ${clean(options.id, 64)};\r\n` +
    `\t${rfc5322Date(options.date)}\r\n`
  );
}

const FORGED_PREFIX = "X-Forged-";

/**
 * RFC 8601 §5: a border MTA must delete or obscure Authentication-Results
 * fields that claim its own authserv-id but arrived from outside. Such fields
 * are renamed `X-Forged-Authentication-Results` (the only bytes ever changed,
 * and only in mail that carries a forgery); anything else is returned as is.
 */
export function obscureForgedResults(raw: Uint8Array, authservId: string): Uint8Array {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const id = authservId.toLowerCase();
  const starts: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf("\r\n", pos);
    const lineEnd = end < 0 ? buf.length : end;
    if (lineEnd === pos) break; // end of the header block
    const line = buf.subarray(pos, lineEnd).toString("latin1");
    if (/^authentication-results:/i.test(line)) {
      // The field with its continuation lines, to find the authserv-id even when folded.
      let value = line.slice(line.indexOf(":") + 1);
      let next = lineEnd + 2;
      while (next < buf.length && (buf[next] === 0x20 || buf[next] === 0x09)) {
        const e = buf.indexOf("\r\n", next);
        const le = e < 0 ? buf.length : e;
        value += buf.subarray(next, le).toString("latin1");
        next = le + 2;
      }
      const claimed = value.replace(/\([^)]*\)/g, " ").trim().split(/[\s;]/)[0]?.toLowerCase() ?? "";
      if (claimed === id) starts.push(pos);
    }
    if (end < 0) break;
    pos = end + 2;
  }
  if (starts.length === 0) return raw;
  const parts: Buffer[] = [];
  let last = 0;
  for (const start of starts) {
    parts.push(buf.subarray(last, start), Buffer.from(FORGED_PREFIX, "latin1"));
    last = start;
  }
  parts.push(buf.subarray(last));
  return Buffer.concat(parts);
}
