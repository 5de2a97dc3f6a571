/**
 * The per-message facts that SEARCH, SORT and THREAD need, computed once at
 * append time from the MIME indexer's output and kept by every store
 * implementation (in memory, or as columns of the messages table).
 *
 * Invariants:
 * - Derived only from the message bytes and its append-time attributes, so a
 *   copy of a message carries the same facts.
 * - Sort keys are lower-cased the way RFC 5256 §2.1 / RFC 5957 compare them.
 */

import type { AddressData, ParsedMessageData } from "../mime/types.ts";

export interface MessageFacts {
  /** Sent date (Date header) in ms, or null. */
  sentDate: number | null;
  baseSubject: string;
  /** True when the subject carried a reply/forward prefix (RFC 5256 §2.1 step 6 of the THREAD algorithm). */
  isReply: boolean;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  sortFrom: string;
  sortTo: string;
  sortCc: string;
  displayFrom: string;
  displayTo: string;
}

function firstMailbox(list: AddressData[] | null): AddressData | null {
  for (const a of list ?? []) if (a.host !== null) return a;
  return null;
}

function addrMailbox(list: AddressData[] | null): string {
  return (firstMailbox(list)?.mailbox ?? "").toLowerCase();
}

// RFC 5957 §2: the display name if there is one, else the addr-spec.
function displayKey(list: AddressData[] | null): string {
  const a = firstMailbox(list);
  if (!a) return "";
  if (a.name) return a.name.toLowerCase();
  return `${a.mailbox ?? ""}@${a.host ?? ""}`.toLowerCase();
}

export function factsFromParsed(p: ParsedMessageData): MessageFacts {
  const subject = (p.envelope.subject ?? "").trim();
  return {
    sentDate: p.sentDate,
    baseSubject: p.baseSubject,
    isReply: /^(re|fwd?)\s*(\[[^\]]*\])?\s*:/i.test(subject) || /\(fwd\)\s*$/i.test(subject),
    messageId: p.messageId,
    inReplyTo: p.inReplyTo,
    references: p.references,
    sortFrom: addrMailbox(p.envelope.from),
    sortTo: addrMailbox(p.envelope.to),
    sortCc: addrMailbox(p.envelope.cc),
    displayFrom: displayKey(p.envelope.from),
    displayTo: displayKey(p.envelope.to),
  };
}
