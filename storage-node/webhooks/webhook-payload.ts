/**
 * The JSON body a webhook receives for one inbound message.
 *
 * Invariants:
 * - Built from the stored bytes with the node's own MIME parser: the same
 *   message always yields the same JSON (retries send identical bodies, so the
 *   signature and the delivery id stay valid for deduplication).
 * - `raw` is the complete message as stored (trace headers included), base64;
 *   every attachment carries its decoded bytes in base64 with its metadata.
 * - Header values are unfolded and RFC 2047-decoded; text parts decoded from
 *   their transfer encoding and charset to UTF-8.
 */
import { parseAddressList } from "../mime/address.ts";
import { decodeCharset, decodeUtf8 } from "../mime/charset.ts";
import { decodeParameter, parseContentType, parseDisposition } from "../mime/content-type.ts";
import { decodeEncodedWords } from "../mime/encoded-words.ts";
import { fieldText, scanHeader } from "../mime/header.ts";
import { parseMessage } from "../mime/parse.ts";
import { decodeTransfer } from "../mime/transfer-encoding.ts";
import type { HeaderFieldData, MimePartData } from "../mime/types.ts";
import type { SmtpEnvelopeData } from "../spool/spool-database.ts";

export interface WebhookAddressData {
  name: string | null;
  address: string;
}

export interface WebhookAttachmentData {
  filename: string | null;
  contentType: string;
  disposition: string | null;
  contentId: string | null;
  size: number;
  /** Decoded bytes, base64. */
  content: string;
}

export interface WebhookPayloadData {
  /** Stable per (message, webhook): equal to the Idempotency-Key header. */
  deliveryId: string;
  alias: string;
  receivedAt: string;
  envelope: { mailFrom: string; rcptTo: string[]; remoteAddress: string; helo: string; tls: boolean };
  authentication: { spf: string; dkim: { domain: string; result: string }[]; dmarc: string; arc: string };
  message: {
    headers: { name: string; value: string }[];
    messageId: string | null;
    from: WebhookAddressData[];
    to: WebhookAddressData[];
    cc: WebhookAddressData[];
    replyTo: WebhookAddressData[];
    subject: string | null;
    date: string | null;
    text: string | null;
    html: string | null;
    attachments: WebhookAttachmentData[];
    size: number;
    /** The whole message as stored, base64. */
    raw: string;
  };
}

export interface WebhookPayloadInput {
  deliveryId: string;
  alias: string;
  raw: Uint8Array;
  envelope: SmtpEnvelopeData;
  /** JSON written by the MX: { spf, dkim, dmarc, arc }. */
  authResults: string;
  receivedAt: Date;
}

function headerValue(field: HeaderFieldData): string {
  const bytes = Uint8Array.from(fieldText(field.value), (c) => c.charCodeAt(0) & 0xff);
  return decodeEncodedWords(decodeUtf8(bytes));
}

function addresses(fields: HeaderFieldData[], name: string): WebhookAddressData[] {
  const out: WebhookAddressData[] = [];
  for (const field of fields) {
    if (field.name.toLowerCase() !== name) continue;
    for (const a of parseAddressList(fieldText(field.value))) {
      if (a.mailbox === null || a.host === null) continue;
      out.push({ name: a.name === null ? null : decodeEncodedWords(a.name), address: `${a.mailbox}@${a.host}` });
    }
  }
  return out;
}

function partFields(raw: Uint8Array, part: MimePartData): HeaderFieldData[] {
  return scanHeader(raw, part.headerStart, part.headerEnd, () => false).fields;
}

function first(fields: HeaderFieldData[], name: string): HeaderFieldData | undefined {
  return fields.find((f) => f.name.toLowerCase() === name);
}

interface Collected {
  text: string[];
  html: string[];
  attachments: WebhookAttachmentData[];
}

function collect(raw: Uint8Array, part: MimePartData, out: Collected): void {
  // message/rfc822 parts are reported as attachments (their bytes), not flattened.
  if (part.kind === "multipart") {
    for (const child of part.children) collect(raw, child, out);
    return;
  }
  const fields = partFields(raw, part);
  const dispositionField = first(fields, "content-disposition");
  const disposition = dispositionField ? parseDisposition(fieldText(dispositionField.value)) : null;
  const dispositionType = disposition ? disposition.type.toLowerCase() : null;
  const contentType = part.contentType.toLowerCase();
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  const decoded = decodeTransfer(body, part.encoding) ?? body;
  const isText = contentType === "text/plain" || contentType === "text/html";
  if (isText && dispositionType !== "attachment" && part.filename === null) {
    const text = decodeCharset(decoded, part.charset);
    (contentType === "text/html" ? out.html : out.text).push(text);
    return;
  }
  const typeField = first(fields, "content-type");
  const parsedType = typeField ? parseContentType(fieldText(typeField.value)) : null;
  const filename =
    part.filename ??
    (disposition ? decodeParameter(disposition.params, "filename") : null) ??
    (parsedType ? decodeParameter(parsedType.params, "name") : null);
  const contentIdField = first(fields, "content-id");
  out.attachments.push({
    filename: filename === null ? null : decodeEncodedWords(filename),
    contentType,
    disposition: dispositionType,
    contentId: contentIdField ? fieldText(contentIdField.value).trim() : null,
    size: decoded.length,
    content: Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength).toString("base64"),
  });
}

export function buildWebhookPayload(input: WebhookPayloadInput): WebhookPayloadData {
  const parsed = parseMessage(input.raw);
  const fields = parsed.headers;
  const collected: Collected = { text: [], html: [], attachments: [] };
  collect(input.raw, parsed.tree, collected);
  let auth: WebhookPayloadData["authentication"] = { spf: "none", dkim: [], dmarc: "none", arc: "none" };
  try {
    const value = JSON.parse(input.authResults) as Partial<WebhookPayloadData["authentication"]>;
    auth = { spf: value.spf ?? "none", dkim: value.dkim ?? [], dmarc: value.dmarc ?? "none", arc: value.arc ?? "none" };
  } catch {
    // Recorded results are always JSON; an older entry without them reports "none".
  }
  const subject = first(fields, "subject");
  const date = first(fields, "date");
  return {
    deliveryId: input.deliveryId,
    alias: input.alias,
    receivedAt: input.receivedAt.toISOString(),
    envelope: {
      mailFrom: input.envelope.mailFrom,
      rcptTo: input.envelope.rcptTo,
      remoteAddress: input.envelope.remoteAddress,
      helo: input.envelope.helo,
      tls: input.envelope.secure,
    },
    authentication: auth,
    message: {
      headers: fields.map((f) => ({ name: f.name, value: headerValue(f) })),
      messageId: parsed.messageId,
      from: addresses(fields, "from"),
      to: addresses(fields, "to"),
      cc: addresses(fields, "cc"),
      replyTo: addresses(fields, "reply-to"),
      subject: subject ? headerValue(subject) : null,
      date: parsed.sentDate === null ? (date ? headerValue(date) : null) : new Date(parsed.sentDate).toISOString(),
      text: collected.text.length > 0 ? collected.text.join("\n") : null,
      html: collected.html.length > 0 ? collected.html.join("\n") : null,
      attachments: collected.attachments,
      size: input.raw.length,
      raw: Buffer.from(input.raw.buffer, input.raw.byteOffset, input.raw.byteLength).toString("base64"),
    },
  };
}
