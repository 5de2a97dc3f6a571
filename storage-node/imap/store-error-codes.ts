/**
 * The one place where store errors become IMAP responses (Dovecot's
 * imap-commands-util.c idea). Store errors are protocol-neutral; this table
 * picks the RFC 5530 response code and a client-facing text.
 *
 * Invariant: the text never repeats the store's message, so nothing about
 * other mailboxes, paths or keys reaches a client.
 */

import { StoreError, type StoreErrorKind } from "../store/types.ts";
import { CommandError } from "./command.ts";

const STORE_ERROR_RESPONSES: Record<StoreErrorKind, { code: string; text: string }> = {
  "not-found": { code: "NONEXISTENT", text: "No such mailbox or message." },
  exists: { code: "ALREADYEXISTS", text: "Mailbox already exists." },
  "over-quota": { code: "OVERQUOTA", text: "Quota exceeded." },
  "in-use": { code: "INUSE", text: "Mailbox is in use." },
  "too-big": { code: "TOOBIG", text: "Message too large." },
  invalid: { code: "CANNOT", text: "Refused: a name, flag, keyword or message is malformed or over a limit." },
  "bad-key": { code: "UNAVAILABLE", text: "Mailbox unavailable." },
  stale: { code: "UNAVAILABLE", text: "Mailbox unavailable." },
  cannot: { code: "CANNOT", text: "Operation not permitted." },
  // RFC 5530 §3: "the number of flags used in a mailbox" is its own example (the only store limit today).
  limit: { code: "LIMIT", text: "Too many keywords defined in this mailbox." },
  corrupt: { code: "CORRUPTION", text: "Mailbox is damaged." },
  temporary: { code: "UNAVAILABLE", text: "Temporary failure, try again later." },
};

/** Converts anything a store call threw into a tagged NO; unknown errors are rethrown. */
export function storeErrorToCommandError(error: unknown): CommandError {
  if (error instanceof CommandError) return error;
  if (error instanceof StoreError) {
    const response = STORE_ERROR_RESPONSES[error.kind];
    return new CommandError("NO", response.code, response.text);
  }
  throw error;
}

/** Runs a store call, turning StoreError into the mapped CommandError. */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw storeErrorToCommandError(error);
  }
}

/** Iterates a store result stream, turning StoreError into the mapped CommandError. */
export async function* storeIterable<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    for await (const item of items) yield item;
  } catch (error) {
    throw storeErrorToCommandError(error);
  }
}
