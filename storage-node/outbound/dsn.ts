/**
 * Delivery status notifications (RFC 3464) for forwarded mail that could not
 * be delivered: multipart/report (RFC 6522) with a human part, the
 * message/delivery-status part and the original headers.
 *
 * Invariants:
 * - Sent with the null reverse path (RFC 5321 §4.5.5), so a DSN never causes
 *   another DSN; mail that itself came from the null sender gets none.
 * - Carries only the original header block, never the original body, and
 *   remote replies are reduced to one line of printable ASCII.
 */
import { randomBytes } from "node:crypto";
import { rfc5322Date } from "../mx/trace-headers.ts";

export interface DsnOptions {
  hostname: string;
  originalSender: string;
  failedRecipient: string;
  /** RFC 3463 status, e.g. "5.1.1", or "4.4.7" when retries ran out. */
  status: string;
  diagnostic: string;
  arrivalDate: Date;
  originalRaw: Uint8Array;
  now?: Date;
}

function oneLine(text: string, max = 500): string {
  return text.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, max);
}

function headerBlock(raw: Uint8Array, max: number): string {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let end = buf.indexOf("\r\n\r\n");
  end = end < 0 ? Math.min(buf.length, max) : Math.min(end + 2, max);
  return buf.subarray(0, end).toString("latin1").replace(/[^\x09\x0d\x0a\x20-\x7e]/g, "?");
}

/** The RFC 3463 code in a reply like "550 5.1.1 no such user", or a default by class. */
export function statusFromReply(reply: string, permanent: boolean): string {
  const match = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (match) return match[1].startsWith("2") ? "5.0.0" : `5${match[1].slice(1)}`;
  return permanent ? "5.0.0" : "4.4.7";
}

export function buildDsn(options: DsnOptions, maxHeaderBytes: number): Buffer {
  const now = options.now ?? new Date();
  const boundary = `=_sealbox_dsn_${randomBytes(12).toString("hex")}`;
  const expired = options.status.startsWith("4.");
  const human = expired
    ? `Your message to <${options.failedRecipient}> could not be delivered: the destination did not accept it before the retry period ran out.`
    : `Your message to <${options.failedRecipient}> could not be delivered: the destination refused it.`;
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${options.hostname}>`,
    `To: <${options.originalSender}>`,
    `Subject: Undelivered Mail Returned to Sender`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${randomBytes(12).toString("hex")}@${options.hostname}>`,
    `Auto-Submitted: auto-replied`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/report; report-type=delivery-status;`,
    `\tboundary="${boundary}"`,
    ``,
    `This is a MIME-encapsulated delivery status notification.`,
    ``,
    `--${boundary}`,
    `Content-Type: text/plain; charset=us-ascii`,
    ``,
    `This is the mail system at ${options.hostname}.`,
    ``,
    human,
    ``,
    `The remote server said: ${oneLine(options.diagnostic) || "(nothing)"}`,
    ``,
    `--${boundary}`,
    `Content-Type: message/delivery-status`,
    ``,
    `Reporting-MTA: dns; ${options.hostname}`,
    `Arrival-Date: ${rfc5322Date(options.arrivalDate)}`,
    ``,
    `Final-Recipient: rfc822; ${options.failedRecipient}`,
    `Action: failed`,
    `Status: ${expired ? "4.4.7" : options.status}`,
    `Diagnostic-Code: smtp; ${oneLine(options.diagnostic) || "delivery failed"}`,
    `Last-Attempt-Date: ${rfc5322Date(now)}`,
    ``,
    `--${boundary}`,
    `Content-Type: text/rfc822-headers`,
    ``,
  ];
  return Buffer.from(lines.join("\r\n") + "\r\n" + headerBlock(options.originalRaw, maxHeaderBytes) + `\r\n--${boundary}--\r\n`, "latin1");
}
