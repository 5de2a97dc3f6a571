/**
 * The shape of one IMAP command: parse the arguments into a typed value, then
 * execute it (Stalwart's parser/handler split). Each command lives in its own
 * file under commands/ and is registered once in command-table.ts.
 *
 * Invariants:
 * - `parse` only reads from the cursor and checks syntax; it never touches the
 *   store (APPEND's message literals are the exception: they are streamed, so
 *   parsing and execution interleave through an async generator).
 * - `execute` reports failure by throwing `CommandError`; anything else thrown
 *   is a server bug, logged and answered with NO [SERVERBUG].
 */

import type { CommandCursor } from "./wire/command-cursor.ts";
import type { Session, SessionState } from "./session.ts";

export class CommandError extends Error {
  constructor(
    readonly status: "NO" | "BAD",
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

export interface CommandResult {
  code?: string | null;
  text?: string;
  /** Runs after the tagged OK has been flushed (STARTTLS handshake, COMPRESS). */
  after?: () => Promise<void>;
}

export interface CommandSpec<Args> {
  /** Upper-case name; UID commands are "UID FETCH" etc. */
  name: string;
  /** Connection states in which the command is allowed (RFC 3501 §3). */
  states: readonly SessionState[];
  /**
   * The command refers to messages by sequence number, so no untagged EXPUNGE
   * may be sent while it runs or as it completes (RFC 3501 §7.4.1, RFC 9051 §7.5.1).
   */
  usesSequenceNumbers: boolean;
  /** The command itself removes messages and renumbers (EXPUNGE, MOVE, CLOSE). */
  breaksSequenceNumbers: boolean;
  parse(cursor: CommandCursor, session: Session): Promise<Args>;
  execute(session: Session, tag: string, args: Args): Promise<CommandResult | void>;
}

/** A registered command with its argument type erased. */
export interface CommandEntry {
  name: string;
  states: readonly SessionState[];
  usesSequenceNumbers: boolean;
  breaksSequenceNumbers: boolean;
  run(session: Session, tag: string, cursor: CommandCursor): Promise<CommandResult | void>;
  /** Parses the arguments only (the parser fuzz test drives this). */
  parseOnly(session: Session, cursor: CommandCursor): Promise<unknown>;
}

export function defineCommand<Args>(spec: CommandSpec<Args>): CommandEntry {
  return {
    name: spec.name,
    states: spec.states,
    usesSequenceNumbers: spec.usesSequenceNumbers,
    breaksSequenceNumbers: spec.breaksSequenceNumbers,
    async run(session, tag, cursor) {
      const args = await spec.parse(cursor, session);
      return spec.execute(session, tag, args);
    },
    parseOnly: (session, cursor) => spec.parse(cursor, session),
  };
}

export const ANY_STATE = ["not-authenticated", "authenticated", "selected"] as const;
export const AUTHENTICATED = ["authenticated", "selected"] as const;
export const SELECTED = ["selected"] as const;
export const NOT_AUTHENTICATED = ["not-authenticated"] as const;
