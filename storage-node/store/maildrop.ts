/**
 * The POP3 maildrop view (RFC 1939) over the store interface: INBOX as a list
 * fixed for one session. POP3 uses this and nothing else of the store.
 *
 * Invariants:
 * - The list is taken once, when the view opens: message numbers and sizes do
 *   not change during the session (RFC 1939 §8); mail delivered meanwhile
 *   appears in the next session.
 * - DELE only marks; nothing is removed until `commit()` (the UPDATE state
 *   after QUIT). `commit()` expunges exactly the marked UIDs — never a message
 *   another session flagged \Deleted — and a session that ends without QUIT
 *   removes nothing.
 * - Unique ids (UIDL) are `<uidvalidity>.<uid>`: stable across sessions for as
 *   long as the folder's UIDVALIDITY is.
 * - RETR yields exactly the stored bytes, streamed in chunks.
 */
import type { MaildropEntryData, Mailbox, UidSet } from "./types.ts";

const INBOX = "INBOX";

function uidSet(uids: readonly number[]): UidSet {
  return uids.map((uid) => ({ start: uid, end: uid }));
}

export class MaildropView {
  private readonly mailbox: Mailbox;
  private readonly list: readonly MaildropEntryData[];
  private readonly deleted = new Set<number>();
  private readonly retrieved = new Set<number>();

  private constructor(mailbox: Mailbox, list: MaildropEntryData[]) {
    this.mailbox = mailbox;
    this.list = list;
  }

  static async open(mailbox: Mailbox): Promise<MaildropView> {
    const { uidValidity } = await mailbox.status(INBOX);
    const uids = await mailbox.uids(INBOX);
    const list: MaildropEntryData[] = [];
    if (uids.length > 0) {
      for await (const message of mailbox.fetch(INBOX, uidSet(uids), { size: true })) {
        list.push({ uid: message.uid, size: message.size ?? 0, uniqueId: `${uidValidity}.${message.uid}` });
      }
    }
    list.sort((a, b) => a.uid - b.uid);
    return new MaildropView(mailbox, list);
  }

  /** Number of messages in the session's list, deleted ones included (message numbers are 1..count). */
  get count(): number {
    return this.list.length;
  }

  /** STAT: messages not marked deleted, and their total size. */
  stat(): { messages: number; bytes: number } {
    let messages = 0;
    let bytes = 0;
    for (const entry of this.list) {
      if (this.deleted.has(entry.uid)) continue;
      messages++;
      bytes += entry.size;
    }
    return { messages, bytes };
  }

  /** The entry for a message number, or null when it does not exist or is marked deleted. */
  entry(number: number): MaildropEntryData | null {
    if (!Number.isInteger(number) || number < 1 || number > this.list.length) return null;
    const entry = this.list[number - 1];
    return this.deleted.has(entry.uid) ? null : entry;
  }

  /** LIST/UIDL without an argument: every message not marked deleted, with its number. */
  entries(): { number: number; entry: MaildropEntryData }[] {
    return this.list.map((entry, i) => ({ number: i + 1, entry })).filter(({ entry }) => !this.deleted.has(entry.uid));
  }

  /** RETR: the message's exact bytes; nothing for a missing or deleted number (check `entry()` first). */
  async *retrieve(number: number): AsyncGenerator<Uint8Array> {
    const entry = this.entry(number);
    if (!entry) return;
    this.retrieved.add(entry.uid);
    for await (const message of this.mailbox.fetch(INBOX, uidSet([entry.uid]), { sections: [{ part: [], specifier: "" }] })) {
      for (const section of message.sections ?? []) yield* section.chunks;
    }
  }

  /** TOP: the header, the blank line, and the first `lines` lines of the body (RFC 1939 §7). */
  async top(number: number, lines: number): Promise<Uint8Array | null> {
    const entry = this.entry(number);
    if (!entry || !Number.isInteger(lines) || lines < 0) return null;
    const parts: Uint8Array[] = [];
    for await (const message of this.mailbox.fetch(INBOX, uidSet([entry.uid]), {
      sections: [{ part: [], specifier: "HEADER" }, { part: [], specifier: "TEXT" }],
    })) {
      const [header, text] = message.sections ?? [];
      if (header) for await (const chunk of header.chunks) parts.push(chunk);
      if (text) {
        let remaining = lines;
        for await (const chunk of text.chunks) {
          if (remaining <= 0) continue; // drain the stream, keep nothing
          let end = 0;
          while (end < chunk.length && remaining > 0) {
            const lf = chunk.indexOf(0x0a, end);
            if (lf < 0) {
              end = chunk.length;
              break;
            }
            end = lf + 1;
            remaining--;
          }
          parts.push(chunk.subarray(0, end));
        }
      }
    }
    return concat(parts);
  }

  /** DELE: marks a message; false when it does not exist or is already marked. */
  delete(number: number): boolean {
    const entry = this.entry(number);
    if (!entry) return false;
    this.deleted.add(entry.uid);
    return true;
  }

  /** RSET: unmarks every message. */
  reset(): void {
    this.deleted.clear();
  }

  /**
   * The UPDATE state: marks retrieved messages \Seen (so IMAP clients of the
   * same mailbox see them as read) and expunges exactly the marked ones.
   * Returns the expunged UIDs.
   */
  async commit(): Promise<number[]> {
    const seen = [...this.retrieved].filter((uid) => !this.deleted.has(uid));
    if (seen.length > 0) await this.mailbox.storeFlags(INBOX, uidSet(seen), { op: "add", flags: ["\\Seen"] });
    if (this.deleted.size === 0) return [];
    const marked = [...this.deleted].sort((a, b) => a - b);
    await this.mailbox.storeFlags(INBOX, uidSet(marked), { op: "add", flags: ["\\Deleted"] });
    return this.mailbox.expunge(INBOX, uidSet(marked));
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
