/**
 * In-memory MailStore: the reference implementation of the contract in
 * types.ts, used by protocol tests and by the conformance suite.
 *
 * Invariants:
 * - Same observable behaviour as the SQLite store (the conformance suite runs
 *   against both); nothing is persisted, so "durable" is trivially true.
 * - Several open() calls of one id share one state; watch listeners of every
 *   handle see every committed write, delivered after the write resolves.
 * - Modseqs come from one counter per mailbox, so they only grow, per folder too.
 * - Messages are immutable once appended; COPY shares the bytes and the index.
 */

import { STORE_CHUNK_BYTES, STORE_MAX_APPEND_BATCH_BYTES, STORE_MAX_FOLDERS } from "../limits.ts";
import { parseMessage } from "../mime/parse.ts";
import type { ParsedMessageData } from "../mime/types.ts";
import { resolveSection } from "./body-section.ts";
import { defineKeywords, hasFlag, normalizeFlags, planFlagUpdates } from "./flag-names.ts";
import { folderList, folderStatusData, type FolderCounts, type FolderRecord } from "./folder-data.ts";
import { folderAncestors, isFolderDescendant, normalizeFolderName } from "./folder-name.ts";
import { DEFAULT_FOLDERS, checkMailboxId, checkMailboxKey } from "./mailbox-id.ts";
import { factsFromParsed, type MessageFacts } from "./message-facts.ts";
import { headerSearchText, headerValues } from "./message-text.ts";
import { collectBody } from "./read-body.ts";
import { createMatcher, type SearchTextSource } from "./search-match.ts";
import { sortMessages, threadMessages } from "./sort-thread.ts";
import {
  StoreError,
  type AppendData,
  type AppendOptions,
  type BatchAppendItem,
  type ChangesData,
  type CopyData,
  type FetchOptions,
  type FetchedMessageData,
  type FolderData,
  type FolderStatusData,
  type Mailbox,
  type MailboxChangeEvent,
  type MailStore,
  type MessageBody,
  type OpenMailboxOptions,
  type QuotaData,
  type RecentClaimData,
  type SearchKey,
  type SelectData,
  type SelectOptions,
  type SectionData,
  type SortKey,
  type SpecialUse,
  type StoreFlagsData,
  type StoreFlagsOptions,
  type ThreadNodeData,
  type UidSet,
} from "./types.ts";
import { uidInSet } from "./uid-set.ts";
import { checkDedupeKey, checkInternalDate, checkQuota } from "./write-checks.ts";

interface MemContent {
  raw: Uint8Array;
  parsed: ParsedMessageData;
  facts: MessageFacts;
  headerText: string;
}

interface MemMessage extends MessageFacts {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  size: number;
  content: MemContent;
}

interface MemFolder extends FolderRecord {
  /** First UID no session has claimed as recent. */
  firstRecentUid: number;
  messages: Map<number, MemMessage>; // ascending uid (insertion order)
  expunged: { uid: number; modseq: number }[];
}

interface MemState {
  id: string;
  key: string;
  generation: number;
  modseq: number;
  lastUidValidity: number;
  folders: Map<string, MemFolder>;
  dedupe: Map<string, AppendData>;
  listeners: Set<(e: MailboxChangeEvent) => void>;
  quotaBytes: number | undefined;
  handles: number;
}

const textSource: SearchTextSource<MemMessage> = {
  headerValues: (m, field) => headerValues(m.content.parsed.headers, field),
  headerText: (m) => m.content.headerText,
  bodyText: (m) => m.content.parsed.bodyText,
};

function chunksOf(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < bytes.byteLength; i += STORE_CHUNK_BYTES) yield bytes.subarray(i, Math.min(bytes.byteLength, i + STORE_CHUNK_BYTES));
  })();
}

/** Builds one section of a stored message (same resolver as the SQLite store). */
function buildSection(content: MemContent, request: SectionData["request"]): SectionData {
  const raw = content.raw;
  const r = resolveSection({ size: raw.byteLength, tree: () => content.parsed.tree, read: (a, b) => raw.subarray(a, b) }, request);
  const bytes = r.kind === "range" ? raw.subarray(r.start, r.end) : r.bytes;
  return { request, size: bytes.byteLength, chunks: chunksOf(request.sizeOnly ? new Uint8Array(0) : bytes) };
}

class MemoryMailbox implements Mailbox {
  readonly id: string;
  readonly generation: number;
  private closed = false;
  private readonly own = new Set<(e: MailboxChangeEvent) => void>();

  constructor(private readonly s: MemState) {
    this.id = s.id;
    this.generation = s.generation;
  }

  private live(): MemState {
    if (this.closed) throw new StoreError("cannot", "mailbox handle is closed");
    return this.s;
  }

  private folder(name: string): MemFolder {
    const f = this.live().folders.get(normalizeFolderName(name));
    if (!f) throw new StoreError("not-found", "no such folder");
    return f;
  }

  private emit(folder: string, kind: MailboxChangeEvent["kind"]): void {
    const event: MailboxChangeEvent = { folder, modseq: this.s.modseq, kind };
    for (const l of [...this.s.listeners]) queueMicrotask(() => l(event));
  }

  private newUidValidity(): number {
    const now = Math.floor(Date.now() / 1000);
    this.s.lastUidValidity = Math.max(now, this.s.lastUidValidity + 1);
    return this.s.lastUidValidity;
  }

  private makeFolder(name: string, specialUse: SpecialUse | null): MemFolder {
    if (this.s.folders.size >= STORE_MAX_FOLDERS) throw new StoreError("invalid", "too many folders");
    const f: MemFolder = {
      name,
      specialUse,
      subscribed: true,
      uidValidity: this.newUidValidity(),
      uidNext: 1,
      highestModseq: this.s.modseq,
      keywords: [],
      firstRecentUid: 1,
      messages: new Map(),
      expunged: [],
    };
    this.s.folders.set(name, f);
    return f;
  }

  private usedBytes(): number {
    let n = 0;
    for (const f of this.s.folders.values()) for (const m of f.messages.values()) n += m.size;
    return n;
  }

  private checkQuota(extra: number): void {
    checkQuota(this.s.quotaBytes, () => this.usedBytes(), extra);
  }

  private selected(f: MemFolder, set: UidSet): MemMessage[] {
    return [...f.messages.values()].filter((m) => uidInSet(m.uid, set));
  }

  async listFolders(): Promise<FolderData[]> {
    return folderList([...this.live().folders.values()], countsOf);
  }

  async createFolder(name: string, options?: { specialUse?: SpecialUse }): Promise<FolderData> {
    const s = this.live();
    const n = normalizeFolderName(name);
    if (s.folders.has(n)) throw new StoreError("exists", "folder exists");
    for (const a of folderAncestors(n)) if (!s.folders.has(a)) this.makeFolder(a, null);
    this.makeFolder(n, options?.specialUse ?? null);
    this.emit(n, "folders");
    return (await this.listFolders()).find((f) => f.name === n)!;
  }

  async renameFolder(from: string, to: string): Promise<void> {
    const s = this.live();
    const src = this.folder(from);
    const dst = normalizeFolderName(to);
    if (src.name === dst) throw new StoreError("cannot", "cannot rename a folder to itself");
    if (s.folders.has(dst)) throw new StoreError("exists", "target folder exists");
    if (isFolderDescendant(dst, src.name)) throw new StoreError("cannot", "cannot move a folder below itself");
    if (dst === "INBOX" || isFolderDescendant(dst, "INBOX")) {
      // Allowed (INBOX/x), but never onto INBOX itself (checked by "exists" above).
    }
    for (const a of folderAncestors(dst)) if (!s.folders.has(a) && a !== src.name) this.makeFolder(a, null);
    if (src.name === "INBOX") {
      // RFC 3501 §6.3.5: renaming INBOX moves its messages to a new folder; INBOX
      // stays, empty, and its children keep their names.
      s.folders.delete("INBOX");
      src.name = dst;
      src.specialUse = null;
      s.folders.set(dst, src);
      const inbox = this.makeFolder("INBOX", "\\Inbox");
      inbox.subscribed = src.subscribed;
    } else {
      const old = src.name;
      const moving = [...s.folders.values()].filter((f) => f === src || isFolderDescendant(f.name, old));
      for (const f of moving) s.folders.delete(f.name);
      for (const f of moving) {
        f.name = dst + f.name.slice(old.length);
        s.folders.set(f.name, f);
      }
    }
    s.modseq++;
    this.emit(dst, "folders");
  }

  async deleteFolder(name: string): Promise<void> {
    const s = this.live();
    const f = this.folder(name);
    if (f.name === "INBOX") throw new StoreError("cannot", "INBOX cannot be deleted");
    if ([...s.folders.keys()].some((n) => isFolderDescendant(n, f.name))) throw new StoreError("cannot", "folder has child folders");
    s.folders.delete(f.name);
    s.modseq++;
    this.emit(f.name, "folders");
  }

  async subscribe(name: string, subscribed: boolean): Promise<void> {
    this.folder(name).subscribed = subscribed;
    this.s.modseq++;
    this.emit(normalizeFolderName(name), "folders");
  }

  async status(folder: string): Promise<FolderStatusData> {
    const f = this.folder(folder);
    return folderStatusData(f, countsOf(f));
  }

  async append(folder: string, body: MessageBody, options: AppendOptions = {}): Promise<AppendData> {
    const s = this.live();
    const f = this.folder(folder);
    const flags = normalizeFlags(options.flags ?? []);
    const dk = options.dedupeKey;
    checkDedupeKey(dk);
    if (dk !== undefined) {
      const prev = s.dedupe.get(dk);
      if (prev) return { ...prev, duplicate: true };
    }
    const internalDate = options.internalDate?.getTime() ?? Date.now();
    checkInternalDate(internalDate);
    const raw = new Uint8Array(await collectBody(body));
    this.live();
    if (dk !== undefined && s.dedupe.has(dk)) return { ...s.dedupe.get(dk)!, duplicate: true };
    this.checkQuota(raw.byteLength);
    const keywords = defineKeywords(f.keywords, flags);
    const parsed = parseMessage(raw);
    const facts = factsFromParsed(parsed);
    const content: MemContent = { raw, parsed, facts, headerText: headerSearchText(parsed.headers) };
    const modseq = ++s.modseq;
    const uid = f.uidNext++;
    f.messages.set(uid, { ...facts, uid, modseq, flags, internalDate, size: raw.byteLength, content });
    if (keywords) f.keywords = keywords;
    f.highestModseq = modseq;
    const result: AppendData = { uid, uidValidity: f.uidValidity, modseq, duplicate: false };
    if (dk !== undefined) s.dedupe.set(dk, result);
    this.emit(f.name, "append");
    return result;
  }

  async appendBatch(folder: string, items: AsyncIterable<BatchAppendItem>): Promise<AppendData[]> {
    this.live();
    this.folder(folder);
    // Staged: parsed and checked one by one, committed together below without an await in between.
    const staged: { content: MemContent; flags: string[]; internalDate: number }[] = [];
    let total = 0;
    for await (const item of items) {
      const flags = normalizeFlags(item.options?.flags ?? []);
      const internalDate = item.options?.internalDate?.getTime() ?? Date.now();
      checkInternalDate(internalDate);
      const raw = new Uint8Array(await collectBody(item.body));
      total += raw.byteLength;
      if (total > STORE_MAX_APPEND_BATCH_BYTES) throw new StoreError("too-big", "batch exceeds the size limit");
      this.checkQuota(total);
      const parsed = parseMessage(raw);
      staged.push({ content: { raw, parsed, facts: factsFromParsed(parsed), headerText: headerSearchText(parsed.headers) }, flags, internalDate });
    }
    const s = this.live();
    const f = this.folder(folder);
    this.checkQuota(total);
    // Throws `limit` before anything is written, like a single append.
    const keywords = defineKeywords(f.keywords, staged.flatMap((m) => m.flags));
    if (keywords) f.keywords = keywords;
    const results: AppendData[] = [];
    for (const { content, flags, internalDate } of staged) {
      const modseq = ++s.modseq;
      const uid = f.uidNext++;
      f.messages.set(uid, { ...content.facts, uid, modseq, flags, internalDate, size: content.raw.byteLength, content });
      f.highestModseq = modseq;
      results.push({ uid, uidValidity: f.uidValidity, modseq, duplicate: false });
    }
    if (results.length > 0) this.emit(f.name, "append");
    return results;
  }

  async uids(folder: string): Promise<number[]> {
    return [...this.folder(folder).messages.keys()];
  }

  fetch(folder: string, uids: UidSet, options: FetchOptions): AsyncIterable<FetchedMessageData> {
    const f = this.folder(folder);
    const list = this.selected(f, uids).filter((m) => options.changedSince === undefined || m.modseq > options.changedSince);
    return (async function* () {
      for (const m of list) {
        const out: FetchedMessageData = { uid: m.uid };
        if (options.flags) out.flags = [...m.flags];
        if (options.internalDate) out.internalDate = new Date(m.internalDate);
        if (options.size) out.size = m.size;
        if (options.modseq) out.modseq = m.modseq;
        if (options.envelope) out.envelope = m.content.parsed.envelope;
        if (options.bodyStructure) out.bodyStructure = m.content.parsed.bodyStructure;
        if (options.sections) out.sections = options.sections.map((r) => buildSection(m.content, r));
        yield out;
      }
    })();
  }

  async storeFlags(folder: string, uids: UidSet, options: StoreFlagsOptions): Promise<StoreFlagsData> {
    const s = this.live();
    const f = this.folder(folder);
    const plan = planFlagUpdates(this.selected(f, uids), options.op, options.flags, options.unchangedSince);
    const out: StoreFlagsData = { changed: [], modified: plan.modified };
    if (plan.pending.length === 0) return out;
    const keywords = defineKeywords(f.keywords, plan.pending.flatMap((p) => p.flags));
    const modseq = ++s.modseq;
    if (keywords) f.keywords = keywords;
    for (const p of plan.pending) {
      p.message.flags = p.flags;
      p.message.modseq = modseq;
      out.changed.push({ uid: p.message.uid, flags: [...p.flags], modseq });
    }
    f.highestModseq = modseq;
    this.emit(f.name, "flags");
    return out;
  }

  private copyInto(src: MemFolder, uids: UidSet, dst: MemFolder): CopyData {
    const list = this.selected(src, uids);
    this.checkQuota(list.reduce((n, m) => n + m.size, 0));
    const out: CopyData = { uidValidity: dst.uidValidity, map: [] };
    if (list.length === 0) return out;
    const keywords = defineKeywords(dst.keywords, list.flatMap((m) => m.flags));
    const modseq = ++this.s.modseq;
    if (keywords) dst.keywords = keywords;
    for (const m of list) {
      const uid = dst.uidNext++;
      dst.messages.set(uid, { ...m, flags: [...m.flags], uid, modseq });
      out.map.push([m.uid, uid]);
    }
    dst.highestModseq = modseq;
    this.emit(dst.name, "append");
    return out;
  }

  async copy(from: string, uids: UidSet, to: string): Promise<CopyData> {
    return this.copyInto(this.folder(from), uids, this.folder(to));
  }

  async move(from: string, uids: UidSet, to: string): Promise<CopyData> {
    const src = this.folder(from);
    const dst = this.folder(to);
    const size = this.selected(src, uids).reduce((n, m) => n + m.size, 0);
    // A move does not change the mailbox's total size: lift the quota check for it.
    const saved = this.s.quotaBytes;
    if (saved !== undefined) this.s.quotaBytes = saved + size;
    let out: CopyData;
    try {
      out = this.copyInto(src, uids, dst);
    } finally {
      this.s.quotaBytes = saved;
    }
    this.removeMessages(src, out.map.map(([u]) => u));
    return out;
  }

  private removeMessages(f: MemFolder, uids: number[]): void {
    if (uids.length === 0) return;
    const modseq = ++this.s.modseq;
    for (const u of uids) {
      f.messages.delete(u);
      f.expunged.push({ uid: u, modseq });
    }
    f.highestModseq = modseq;
    this.emit(f.name, "expunge");
  }

  async expunge(folder: string, uids?: UidSet): Promise<number[]> {
    const f = this.folder(folder);
    const gone = [...f.messages.values()].filter((m) => hasFlag(m.flags, "\\Deleted") && (!uids || uidInSet(m.uid, uids))).map((m) => m.uid);
    this.removeMessages(f, gone);
    return gone;
  }

  private matching(folder: string, criteria: SearchKey): MemMessage[] {
    const f = this.folder(folder);
    const match = createMatcher<MemMessage>(criteria, { source: textSource, now: Date.now() });
    return [...f.messages.values()].filter(match);
  }

  async search(folder: string, criteria: SearchKey): Promise<number[]> {
    return this.matching(folder, criteria).map((m) => m.uid);
  }

  async sort(folder: string, keys: SortKey[], criteria: SearchKey): Promise<number[]> {
    return sortMessages(this.matching(folder, criteria), keys);
  }

  async thread(folder: string, algorithm: "references" | "orderedsubject", criteria: SearchKey): Promise<ThreadNodeData[]> {
    return threadMessages(this.matching(folder, criteria), algorithm);
  }

  async changesSince(folder: string, modseq: number): Promise<ChangesData> {
    const f = this.folder(folder);
    return {
      highestModseq: f.highestModseq,
      changed: [...f.messages.values()].filter((m) => m.modseq > modseq).map((m) => ({ uid: m.uid, flags: [...m.flags], modseq: m.modseq })),
      expunged: f.expunged.filter((e) => e.modseq > modseq).map((e) => e.uid),
      keywords: [...f.keywords],
    };
  }

  async claimRecent(folder: string, options?: { peek?: boolean }): Promise<RecentClaimData> {
    const f = this.folder(folder);
    const claim: RecentClaimData = { firstUid: f.firstRecentUid, uidNext: f.uidNext };
    if (!options?.peek) f.firstRecentUid = f.uidNext;
    return claim;
  }

  async select(folder: string, options: SelectOptions): Promise<SelectData> {
    // The three bodies run synchronously, one after the other: nothing can land between them.
    const [status, uids, recent] = await Promise.all([
      this.status(folder),
      this.uids(folder),
      options.recent === null ? null : this.claimRecent(folder, { peek: options.recent === "peek" }),
    ]);
    return { status, uids, recent };
  }

  /** Every call is answered in memory at once: nothing to read ahead. */
  follow(): void {}

  async quota(): Promise<QuotaData> {
    const s = this.live();
    let messages = 0;
    for (const f of s.folders.values()) messages += f.messages.size;
    return { usedBytes: this.usedBytes(), limitBytes: s.quotaBytes ?? null, messages };
  }

  watch(listener: (event: MailboxChangeEvent) => void): () => void {
    this.live();
    const l = (e: MailboxChangeEvent) => listener(e);
    this.s.listeners.add(l);
    this.own.add(l);
    return () => {
      this.s.listeners.delete(l);
      this.own.delete(l);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.own) this.s.listeners.delete(l);
    this.own.clear();
    this.s.handles--;
  }
}

function countsOf(f: MemFolder): FolderCounts {
  let unseen = 0;
  let deleted = 0;
  let size = 0;
  let firstUnseenUid: number | null = null;
  let recent = 0;
  for (const m of f.messages.values()) {
    size += m.size;
    if (m.uid >= f.firstRecentUid) recent++;
    if (!hasFlag(m.flags, "\\Seen")) {
      unseen++;
      firstUnseenUid ??= m.uid;
    }
    if (hasFlag(m.flags, "\\Deleted")) deleted++;
  }
  return { messages: f.messages.size, unseen, deleted, size, firstUnseenUid, recent };
}

export function createMemoryStore(): MailStore {
  const states = new Map<string, MemState>();
  let closed = false;
  return {
    async open(options: OpenMailboxOptions): Promise<Mailbox> {
      if (closed) throw new StoreError("cannot", "store is closed");
      checkMailboxId(options.id);
      checkMailboxKey(options.key);
      const key = Buffer.from(options.key).toString("hex");
      let s = states.get(options.id);
      if (!s) {
        if (!options.create) throw new StoreError("not-found", "no such mailbox");
        s = {
          id: options.id,
          key,
          generation: 0,
          modseq: 1,
          lastUidValidity: 0,
          folders: new Map(),
          dedupe: new Map(),
          listeners: new Set(),
          quotaBytes: undefined,
          handles: 0,
        };
        const init = new MemoryMailbox(s);
        for (const d of DEFAULT_FOLDERS) (init as unknown as { makeFolder(n: string, u: SpecialUse): void }).makeFolder(d.name, d.specialUse);
        states.set(options.id, s);
      } else if (s.key !== key) throw new StoreError("bad-key", "the key does not open this mailbox");
      if (options.minGeneration !== undefined && options.minGeneration > s.generation) throw new StoreError("stale", "mailbox is older than required");
      s.generation++;
      s.quotaBytes = options.quotaBytes;
      s.handles++;
      return new MemoryMailbox(s);
    },
    async exists(id: string): Promise<boolean> {
      checkMailboxId(id);
      return states.has(id);
    },
    async destroy(id: string): Promise<void> {
      checkMailboxId(id);
      const s = states.get(id);
      if (!s) throw new StoreError("not-found", "no such mailbox");
      if (s.handles > 0) throw new StoreError("in-use", "mailbox is open");
      states.delete(id);
    },
    async close(): Promise<void> {
      closed = true;
      states.clear();
    },
  };
}
