/** THREAD and UID THREAD (RFC 5256 §4): ORDEREDSUBJECT and REFERENCES. */
import type { ThreadNodeData } from "../../store/types.ts";
import { SELECTED, defineCommand } from "../command.ts";
import type { Session } from "../session.ts";
import { storeCall } from "../store-error-codes.ts";
import { ParseError, type CommandCursor } from "../wire/command-cursor.ts";
import { SearchParser, readCharset, type SearchCriteria } from "./search-criteria.ts";

interface ThreadArgs {
  algorithm: "references" | "orderedsubject";
  criteria: SearchCriteria;
}

async function parseThread(cursor: CommandCursor, session: Session): Promise<ThreadArgs> {
  cursor.sp();
  const name = cursor.keyword("a threading algorithm");
  if (name !== "REFERENCES" && name !== "ORDEREDSUBJECT") throw new ParseError("Unknown threading algorithm");
  cursor.sp();
  await readCharset(cursor);
  cursor.sp();
  const criteria = await new SearchParser(cursor, session).readAll();
  return { algorithm: name === "REFERENCES" ? "references" : "orderedsubject", criteria };
}

/** RFC 5256 §4 thread-list syntax: "(3 6 (4 23)(44 7 96))". */
export function formatThreadBody(node: ThreadNodeData, id: (uid: number) => number): string {
  const head = node.uid !== null ? String(id(node.uid)) : "";
  if (node.children.length === 0) return head;
  let rest: string;
  if (node.children.length === 1 && node.uid !== null) rest = formatThreadBody(node.children[0], id);
  else rest = node.children.map((child) => `(${formatThreadBody(child, id)})`).join("");
  return head ? `${head} ${rest}` : rest;
}

/** Drops messages the client does not know, keeping their children in place. */
function prune(node: ThreadNodeData, known: (uid: number) => boolean): ThreadNodeData[] {
  const children = node.children.flatMap((child) => prune(child, known));
  if (node.uid !== null && !known(node.uid)) return children;
  if (node.uid === null && children.length <= 1) return children;
  return [{ uid: node.uid, children }];
}

async function runThread(session: Session, args: ThreadArgs, byUid: boolean): Promise<void> {
  const selected = session.requireSelected();
  const mailbox = session.requireMailbox();
  const roots = await storeCall(() => mailbox.thread(selected.name, args.algorithm, args.criteria.key));
  const tracker = selected.tracker;
  const known = (uid: number): boolean => tracker.seqOf(uid) > 0;
  const id = (uid: number): number => (byUid ? uid : tracker.seqOf(uid));
  const threads = roots.flatMap((root) => prune(root, known)).map((root) => `(${formatThreadBody(root, id)})`);
  session.out.untagged(`THREAD${threads.length > 0 ? " " + threads.join("") : ""}`);
}

export const threadCommand = defineCommand<ThreadArgs>({
  name: "THREAD",
  states: SELECTED,
  usesSequenceNumbers: true,
  breaksSequenceNumbers: false,
  parse: parseThread,
  execute: (session, _tag, args) => runThread(session, args, false),
});

export const uidThreadCommand = defineCommand<ThreadArgs>({
  name: "UID THREAD",
  states: SELECTED,
  usesSequenceNumbers: false,
  breaksSequenceNumbers: false,
  parse: parseThread,
  execute: (session, _tag, args) => runThread(session, args, true),
});
