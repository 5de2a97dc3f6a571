/**
 * SEARCH criteria (RFC 3501 §6.4.4, RFC 9051 §6.4.4) → the store's SearchKey
 * tree. Shared by SEARCH, SORT (RFC 5256 §3) and THREAD.
 *
 * Invariants:
 * - Nesting (parentheses, OR, NOT) is capped at `maxSearchDepth`, so a hostile
 *   command cannot exhaust the stack.
 * - Sequence sets become UID sets of messages this client knows; nothing in
 *   the tree refers to sequence numbers.
 * - Strings are UTF-8 (CHARSET UTF-8 or US-ASCII, RFC 6855 §3); any other
 *   charset is refused with NO [BADCHARSET].
 *
 * Extension — regular expressions (capability XREGEX):
 *   XREGEX BODY <pattern>           body text
 *   XREGEX TEXT <pattern>           headers and body
 *   XREGEX HEADER <field> <pattern> one header field ("" = any header)
 * <pattern> is a string: either a bare expression or "/expression/flags" with
 * flags from "ims" (case-insensitive, multi-line anchors, dot matches newline).
 * The store matches in linear time (no backreferences or lookaround) and refuses
 * what it cannot run; patterns are capped at `maxRegexLength` characters.
 */
import type { SearchKey } from "../../store/types.ts";
import { CommandError } from "../command.ts";
import type { Session } from "../session.ts";
import { toUidSet } from "../tracker.ts";
import { ParseError, type CommandCursor } from "../wire/command-cursor.ts";
import { parseSearchDate } from "../wire/format.ts";

export interface SearchCriteria {
  key: SearchKey;
  /** The criteria used MODSEQ (RFC 7162 §3.1.5: the result then carries the highest modseq). */
  usesModseq: boolean;
}

const STRING_LIMIT = { maxBytes: 64 * 1024 };
const NONE: SearchKey = { type: "not", key: { type: "all" } };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ["\\Answered", true],
  DELETED: ["\\Deleted", true],
  DRAFT: ["\\Draft", true],
  FLAGGED: ["\\Flagged", true],
  SEEN: ["\\Seen", true],
  UNANSWERED: ["\\Answered", false],
  UNDELETED: ["\\Deleted", false],
  UNDRAFT: ["\\Draft", false],
  UNFLAGGED: ["\\Flagged", false],
  UNSEEN: ["\\Seen", false],
};

const ADDRESS_KEYS: Record<string, "from" | "to" | "cc" | "bcc"> = { FROM: "from", TO: "to", CC: "cc", BCC: "bcc" };
const DATE_KEYS: Record<string, ["internal-date" | "sent-date", "before" | "on" | "since"]> = {
  BEFORE: ["internal-date", "before"],
  ON: ["internal-date", "on"],
  SINCE: ["internal-date", "since"],
  SENTBEFORE: ["sent-date", "before"],
  SENTON: ["sent-date", "on"],
  SENTSINCE: ["sent-date", "since"],
};

/** `[CHARSET x SP]` (RFC 3501 §6.4.4). */
export async function readCharset(cursor: CommandCursor): Promise<void> {
  const charset = (await cursor.astring({ maxBytes: 64 }, "a charset")).toString("latin1").toUpperCase();
  if (charset !== "UTF-8" && charset !== "US-ASCII") throw new CommandError("NO", "BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset");
}

export class SearchParser {
  usesModseq = false;

  constructor(
    private readonly cursor: CommandCursor,
    private readonly session: Session,
  ) {}

  /** One or more keys separated by spaces, up to the end of the command. */
  async readAll(): Promise<SearchCriteria> {
    const keys = [await this.key(0)];
    while (this.cursor.take(" ")) keys.push(await this.key(0));
    this.cursor.end();
    return { key: keys.length === 1 ? keys[0] : { type: "and", keys }, usesModseq: this.usesModseq };
  }

  private async string(): Promise<string> {
    return (await this.cursor.astring(STRING_LIMIT)).toString("utf8");
  }

  private async date(): Promise<string> {
    const text = (await this.cursor.astring({ maxBytes: 64 }, "a date")).toString("latin1");
    const date = parseSearchDate(text);
    if (!date) throw new ParseError("Invalid date");
    return date;
  }

  async key(depth: number): Promise<SearchKey> {
    if (depth > this.session.limits.maxSearchDepth) throw new ParseError("Search criteria nested too deeply");
    const cursor = this.cursor;
    if (cursor.peekChar("(")) {
      const keys: SearchKey[] = [];
      await cursor.list(async () => {
        keys.push(await this.key(depth + 1));
      });
      if (keys.length === 0) throw new ParseError("Empty search list");
      return keys.length === 1 ? keys[0] : { type: "and", keys };
    }
    const next = cursor.peek();
    if ((next >= 0x30 && next <= 0x39) || next === 0x2a || next === 0x24) {
      return this.sequence(false);
    }
    const name = cursor.keyword("a search key");
    if (name === "ALL") return { type: "all" };
    if (name === "RECENT" || name === "NEW" || name === "OLD") return this.recent(name);
    if (FLAG_KEYS[name]) {
      const [flag, set] = FLAG_KEYS[name];
      return { type: "flag", flag, set };
    }
    cursor.sp();
    if (ADDRESS_KEYS[name]) return { type: "address", field: ADDRESS_KEYS[name], value: await this.string() };
    if (DATE_KEYS[name]) {
      const [type, op] = DATE_KEYS[name];
      return { type, op, date: await this.date() };
    }
    switch (name) {
      case "KEYWORD":
      case "UNKEYWORD":
        return { type: "flag", flag: cursor.atom("a keyword"), set: name === "KEYWORD" };
      case "SUBJECT":
        return { type: "subject", value: await this.string() };
      case "BODY":
        return { type: "body", value: await this.string() };
      case "TEXT":
        return { type: "text", value: await this.string() };
      case "HEADER": {
        const field = (await cursor.astring({ maxBytes: 256 }, "a header field")).toString("latin1");
        cursor.sp();
        return { type: "header", field, value: await this.string() };
      }
      case "LARGER":
      case "SMALLER":
        return { type: "size", op: name === "LARGER" ? "larger" : "smaller", bytes: cursor.number() };
      case "UID":
        return this.sequence(true);
      case "NOT":
        return { type: "not", key: await this.key(depth + 1) };
      case "OR": {
        const left = await this.key(depth + 1);
        cursor.sp();
        return { type: "or", left, right: await this.key(depth + 1) };
      }
      case "OLDER":
      case "YOUNGER": // RFC 5032 WITHIN
        return { type: "age", op: name === "OLDER" ? "older" : "younger", seconds: cursor.number32("a number of seconds", true) };
      case "MODSEQ": {
        // RFC 7162 §3.1.5: optional entry name and type, which a per-message modseq ignores.
        if (cursor.peekChar('"')) {
          cursor.quoted();
          cursor.sp();
          const type = cursor.keyword("an entry type");
          if (type !== "PRIV" && type !== "SHARED" && type !== "ALL") throw new ParseError("Invalid entry type");
          cursor.sp();
        }
        this.usesModseq = true;
        this.session.enabled.add("CONDSTORE");
        return { type: "modseq", modseq: cursor.number("a mod-sequence") };
      }
      case "XREGEX":
        return this.regex();
      default:
        throw new ParseError(`Unknown search key ${name}`);
    }
  }

  private async regex(): Promise<SearchKey> {
    const target = this.cursor.keyword("BODY, TEXT or HEADER");
    if (target !== "BODY" && target !== "TEXT" && target !== "HEADER") throw new ParseError("XREGEX target must be BODY, TEXT or HEADER");
    this.cursor.sp();
    let field: string | undefined;
    if (target === "HEADER") {
      field = (await this.cursor.astring({ maxBytes: 256 }, "a header field")).toString("latin1");
      this.cursor.sp();
    }
    if (target === "HEADER" && field === "") field = undefined;
    const raw = await this.string();
    let pattern = raw;
    let flags: string | undefined;
    const delimited = /^\/(.*)\/([ims]*)$/s.exec(raw);
    if (delimited) {
      pattern = delimited[1];
      flags = delimited[2] || undefined;
    }
    if (pattern.length === 0) throw new ParseError("Empty regular expression");
    if (pattern.length > this.session.limits.maxRegexLength) throw new ParseError("Regular expression too long");
    const key: SearchKey = { type: "regex", target: target === "BODY" ? "body" : target === "TEXT" ? "text" : "header", pattern };
    if (field !== undefined) key.field = field;
    if (flags) key.flags = flags;
    return key;
  }

  /**
   * RFC 3501 §6.4.4: RECENT is \Recent (session state: the tracker's claimed
   * UIDs), NEW is RECENT UNSEEN, OLD is NOT RECENT. Under IMAP4rev2 nothing is
   * recent, so RECENT/NEW match nothing and OLD everything.
   */
  private recent(name: "RECENT" | "NEW" | "OLD"): SearchKey {
    const set = this.session.requireSelected().tracker.recentUidSet();
    const recent: SearchKey = set.length === 0 ? NONE : { type: "uid", set };
    if (name === "RECENT") return recent;
    if (name === "OLD") return set.length === 0 ? { type: "all" } : { type: "not", key: recent };
    return set.length === 0 ? NONE : { type: "and", keys: [recent, { type: "flag", flag: "\\Seen", set: false }] };
  }

  private sequence(byUid: boolean): SearchKey {
    const selected = this.session.requireSelected();
    const set = this.cursor.sequenceSet();
    const uids = selected.tracker.resolve(set, byUid, this.session.savedSearch, true);
    return uids.length === 0 ? NONE : { type: "uid", set: toUidSet(uids) };
  }
}
