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
