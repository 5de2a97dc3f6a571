/**
 * STATUS data items (RFC 3501 §6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE,
 * RFC 9051 DELETED, RFC 7889 APPENDLIMIT), shared by STATUS and LIST-STATUS.
 */
import type { FolderStatusData } from "../../store/types.ts";
import type { Session } from "../session.ts";
import { ParseError, type CommandCursor } from "../wire/command-cursor.ts";
import { encodeMailboxName, } from "../wire/mailbox-name.ts";
import { encodeAstring } from "../wire/response-writer.ts";

export const STATUS_ITEMS = ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE", "DELETED", "APPENDLIMIT"] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

export async function readStatusItems(cursor: CommandCursor): Promise<StatusItem[]> {
  const items: StatusItem[] = [];
  await cursor.list(() => {
    const item = cursor.keyword("a status item");
    if (!(STATUS_ITEMS as readonly string[]).includes(item)) throw new ParseError(`Unknown status item ${item}`);
    items.push(item as StatusItem);
  });
  if (items.length === 0) throw new ParseError("Empty status item list");
  return items;
}

export function writeStatus(session: Session, name: string, status: FolderStatusData, items: readonly StatusItem[]): void {
  const values: string[] = [];
  for (const item of items) {
    switch (item) {
      case "MESSAGES":
        values.push(`MESSAGES ${status.messages}`);
        break;
      case "RECENT":
        // RFC 3501 §6.3.10: messages with \Recent set, i.e. not yet claimed by any session.
        values.push(`RECENT ${status.recent}`);
        break;
      case "UIDNEXT":
        values.push(`UIDNEXT ${status.uidNext}`);
        break;
      case "UIDVALIDITY":
        values.push(`UIDVALIDITY ${status.uidValidity}`);
        break;
      case "UNSEEN":
        values.push(`UNSEEN ${status.unseen}`);
        break;
      case "HIGHESTMODSEQ":
        values.push(`HIGHESTMODSEQ ${status.highestModseq}`);
        break;
      case "SIZE":
        values.push(`SIZE ${status.size}`);
        break;
      case "DELETED":
        values.push(`DELETED ${status.deleted}`);
        break;
      case "APPENDLIMIT":
        values.push(`APPENDLIMIT ${session.limits.maxMessageBytes}`);
        break;
    }
  }
  session.out.untagged("STATUS ", encodeAstring(encodeMailboxName(name, session.utf8), { utf8: session.utf8 }), ` (${values.join(" ")})`);
}
