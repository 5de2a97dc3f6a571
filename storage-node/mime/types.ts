/**
 * The MIME indexer's output: what is computed once when a message arrives and
 * cached by the store. Structured data only — IMAP wire syntax is produced from
 * these by `storage-node/mime/imap-format.ts`, never stored.
 *
 * Strings that come from header bytes are "binary strings": one JS char per
 * byte (latin1), so 8-bit header bytes survive round trips losslessly and the
 * IMAP formatter can reproduce Dovecot's output byte for byte.
 */

export interface AddressData {
  /** Display name (raw, RFC 2047 words not decoded), or null. */
  name: string | null;
  adl: string | null;
  /** Local part; for group syntax the group name (start) or null (end). */
  mailbox: string | null;
  /** Domain, or null for group markers. */
  host: string | null;
}

/** RFC 3501 ENVELOPE; each field null when the header is absent. */
export interface EnvelopeData {
  date: string | null;
  subject: string | null;
  from: AddressData[] | null;
  sender: AddressData[] | null;
  replyTo: AddressData[] | null;
  to: AddressData[] | null;
  cc: AddressData[] | null;
  bcc: AddressData[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/** RFC 3501 BODYSTRUCTURE node with extension data. */
export interface BodyStructureData {
  type: string;
  subtype: string;
  parameters: [string, string][] | null;
  id: string | null;
  description: string | null;
  encoding: string;
  /** Size in octets of the body as transferred (encoded). */
  size: number;
  /** text/* and message/rfc822: line count of the body. */
  lines?: number;
  /** message/rfc822 only. */
  envelope?: EnvelopeData;
  /** multipart children, or the single child of message/rfc822. */
  children?: BodyStructureData[];
  md5: string | null;
  disposition: { type: string; parameters: [string, string][] | null } | null;
  language: string[] | null;
  location: string | null;
}

/** One node of the MIME tree with byte offsets into the raw message. */
export interface MimePartData {
  /** IMAP part number path, e.g. [1, 2]; [] is the whole message. */
  path: number[];
  headerStart: number;
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  contentType: string;
  encoding: string;
  charset: string | null;
  filename: string | null;
  children: MimePartData[];
  /**
   * How `children` relate to this part: "multipart" (one child per body
   * part), "message" (message/rfc822: one child, the encapsulated message,
   * with the same `path`), or "single" (no children). Optional only so that
   * hand-built test trees stay valid; `parseMessage` always sets it.
   */
  kind?: "multipart" | "message" | "single";
}

export interface HeaderFieldData {
  /** Field name as written. */
  name: string;
  /** Raw value bytes after the colon, unfolded lines kept (binary string). */
  value: string;
}

export interface ParsedMessageData {
  size: number;
  envelope: EnvelopeData;
  bodyStructure: BodyStructureData;
  tree: MimePartData;
  /** Top-level header fields in order. */
  headers: HeaderFieldData[];
  /** Decoded header text for search (subject, addresses, …), UTF-8. */
  headerText: string;
  /** Decoded text of every text part (HTML reduced to text), UTF-8, for FTS. */
  bodyText: string;
  /** Threading keys, each a msg-id with its angle brackets ("<id@host>"). */
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  /** Base subject (RFC 5256 §2.1), decoded. */
  baseSubject: string;
  /** Sent date from the Date header in ms since epoch, or null. */
  sentDate: number | null;
}
