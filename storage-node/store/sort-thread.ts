/**
 * SORT (RFC 5256 §3, RFC 5957 DISPLAY) and THREAD (RFC 5256 §2: ORDEREDSUBJECT
 * and REFERENCES) over message facts. Shared by every store implementation.
 *
 * Invariants:
 * - Pure functions of their input: the caller passes only the messages that
 *   matched the search criteria.
 * - Ties are broken by UID (RFC 5256: "sequence number" order, which for a
 *   single folder is UID order).
 * - The date used is the sent date, or the internal date when the message has no
 *   usable Date header (RFC 5256 §2.2).
 */

import type { MessageFacts } from "./message-facts.ts";
import type { SortKey, ThreadNodeData } from "./types.ts";

export interface SortableMessage extends MessageFacts {
  uid: number;
  internalDate: number;
  size: number;
}

function threadDate(m: SortableMessage): number {
  return m.sentDate ?? m.internalDate;
}

function compareKey(a: SortableMessage, b: SortableMessage, key: SortKey["key"]): number {
  switch (key) {
    case "arrival":
      return a.internalDate - b.internalDate;
    case "date":
      return threadDate(a) - threadDate(b);
    case "size":
      return a.size - b.size;
    case "subject":
      return cmpStr(a.baseSubject.toLowerCase(), b.baseSubject.toLowerCase());
    case "from":
      return cmpStr(a.sortFrom, b.sortFrom);
    case "to":
      return cmpStr(a.sortTo, b.sortTo);
    case "cc":
      return cmpStr(a.sortCc, b.sortCc);
    case "display-from":
      return cmpStr(a.displayFrom, b.displayFrom);
    case "display-to":
      return cmpStr(a.displayTo, b.displayTo);
  }
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortMessages(messages: readonly SortableMessage[], keys: readonly SortKey[]): number[] {
  const sorted = [...messages].sort((a, b) => {
    for (const k of keys) {
      const c = compareKey(a, b, k.key);
      if (c !== 0) return k.reverse ? -c : c;
    }
    return a.uid - b.uid;
  });
  return sorted.map((m) => m.uid);
}

function byDate(a: SortableMessage, b: SortableMessage): number {
  return threadDate(a) - threadDate(b) || a.uid - b.uid;
}

/** RFC 5256 §2.1 ORDEREDSUBJECT: group by base subject, each group flat under its first message. */
export function threadOrderedSubject(messages: readonly SortableMessage[]): ThreadNodeData[] {
  const groups = new Map<string, SortableMessage[]>();
  for (const m of [...messages].sort(byDate)) {
    const k = m.baseSubject.toLowerCase();
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(m);
  }
  const roots = [...groups.values()].sort((a, b) => byDate(a[0], b[0]));
  return roots.map((g) => ({ uid: g[0].uid, children: g.slice(1).map((m) => ({ uid: m.uid, children: [] })) }));
}

interface Container {
  msg: SortableMessage | null;
  parent: Container | null;
  children: Container[];
}

function isAncestor(maybeAncestor: Container, c: Container): boolean {
  for (let p: Container | null = c; p; p = p.parent) if (p === maybeAncestor) return true;
  return false;
}

function link(parent: Container, child: Container): void {
  if (child.parent) child.parent.children = child.parent.children.filter((x) => x !== child);
  child.parent = parent;
  parent.children.push(child);
}

// A container's date is its message's, or its first child's (RFC 5256 §2.2 step 4).
function dateOf(c: Container): SortableMessage {
  return c.msg ?? dateOf(c.children[0]);
}

function byContainerDate(a: Container, b: Container): number {
  return byDate(dateOf(a), dateOf(b));
}

function toNode(c: Container): ThreadNodeData {
  return { uid: c.msg ? c.msg.uid : null, children: c.children.map(toNode) };
}

/** RFC 5256 §2.2 REFERENCES threading. */
export function threadReferences(messages: readonly SortableMessage[]): ThreadNodeData[] {
  return referencesRoots(messages).map(toNode);
}

/**
 * REFERENCES threading of messages already partitioned so that no two
 * groups share a message id, a reference or a base subject (the threads
 * table's partition): the algorithm never links across such groups, so
 * threading each group alone and ordering all roots by date gives exactly
 * `threadReferences` of their union.
 */
export function threadReferencesGrouped(groups: readonly (readonly SortableMessage[])[]): ThreadNodeData[] {
  return groups
    .flatMap((g) => referencesRoots(g))
    .sort(byContainerDate)
    .map(toNode);
}

/**
 * Keys that put a message in the same thread partition as others: its
 * message id, every id it refers to, and its base subject (RFC 5256 §2.2
 * step 5 merges roots by subject). Lower-cased as the algorithm compares them.
 */
export function threadKeys(m: Pick<MessageFacts, "messageId" | "inReplyTo" | "references" | "baseSubject">): string[] {
  const keys = new Set<string>();
  for (const id of [m.messageId, m.inReplyTo, ...m.references]) if (id) keys.add(`m:${id.toLowerCase()}`);
  const subject = m.baseSubject.toLowerCase();
  if (subject !== "") keys.add(`s:${subject}`);
  return [...keys];
}

function referencesRoots(messages: readonly SortableMessage[]): Container[] {
  const table = new Map<string, Container>();
  const get = (id: string): Container => {
    let c = table.get(id);
    if (!c) table.set(id, (c = { msg: null, parent: null, children: [] }));
    return c;
  };
  let unique = 0;
  // Step 1.
  for (const m of [...messages].sort((a, b) => a.uid - b.uid)) {
    let id = m.messageId?.toLowerCase() ?? null;
    if (id === null || table.get(id)?.msg) id = `\u0000unique-${unique++}`;
    const self = get(id);
    self.msg = m;
    const refs = (m.references.length > 0 ? m.references : m.inReplyTo ? [m.inReplyTo] : []).map((r) => r.toLowerCase());
    // 1.A: link the references chain, never creating a loop or re-parenting.
    let prev: Container | null = null;
    for (const r of refs) {
      const c = get(r);
      if (prev && !c.parent && c !== prev && !isAncestor(c, prev)) link(prev, c);
      prev = c;
    }
    // 1.B: the message's parent is the last reference.
    if (self.parent) self.parent.children = self.parent.children.filter((x) => x !== self);
    self.parent = null;
    if (prev && prev !== self && !isAncestor(self, prev)) link(prev, self);
  }
  // Step 2: root set.
  let roots = [...table.values()].filter((c) => c.parent === null);
  // Step 3: prune dummies.
  const prune = (list: Container[], atRoot: boolean): Container[] => {
    const out: Container[] = [];
    for (const c of list) {
      c.children = prune(c.children, false);
      if (c.msg) out.push(c);
      else if (c.children.length === 0) continue;
      else if (!atRoot || c.children.length === 1) {
        for (const ch of c.children) ch.parent = c.parent;
        out.push(...c.children);
      } else out.push(c);
    }
    return out;
  };
  roots = prune(roots, true);
  for (const r of roots) r.parent = null;
  // Steps 4–6: sort children by date.
  const sortTree = (list: Container[]) => {
    for (const c of list) sortTree(c.children);
    list.sort(byContainerDate);
  };
  sortTree(roots);
  // Step 5: merge root threads sharing a base subject.
  const subjectOf = (c: Container): SortableMessage => c.msg ?? c.children[0].msg ?? dateOf(c);
  const bySubject = new Map<string, Container>();
  for (const c of roots) {
    const s = subjectOf(c).baseSubject.toLowerCase();
    if (s === "") continue;
    const old = bySubject.get(s);
    if (!old || (old.msg && !c.msg) || (old.msg && c.msg && old.msg.isReply && !c.msg.isReply)) bySubject.set(s, c);
  }
  const merged: Container[] = [];
  for (const c of roots) {
    const s = subjectOf(c).baseSubject.toLowerCase();
    const target = s === "" ? undefined : bySubject.get(s);
    if (!target || target === c) {
      merged.push(c);
      continue;
    }
    if (!target.msg && !c.msg) {
      for (const ch of c.children) link(target, ch);
    } else if (!target.msg) {
      link(target, c);
    } else if (target.msg && c.msg && !target.msg.isReply && c.msg.isReply) {
      link(target, c);
    } else {
      // Neither is clearly the parent: both become children of a new dummy.
      const dummy: Container = { msg: null, parent: null, children: [] };
      const at = merged.indexOf(target);
      if (at >= 0) merged[at] = dummy;
      link(dummy, target);
      link(dummy, c);
      bySubject.set(s, dummy);
      if (at < 0) merged.push(dummy);
    }
  }
  sortTree(merged);
  return merged;
}

/** THREAD by the named algorithm (RFC 5256 §3). */
export function threadMessages(messages: readonly SortableMessage[], algorithm: "references" | "orderedsubject"): ThreadNodeData[] {
  return algorithm === "references" ? threadReferences(messages) : threadOrderedSubject(messages);
}
