/**
 * The command table (Dovecot's imap-commands.c idea): every command the server
 * knows, with the states it is allowed in and how it treats sequence numbers
 * (see CommandSpec). Dispatch looks commands up here and nowhere else.
 */
import type { CommandEntry } from "./command.ts";
import { appendCommand } from "./commands/append.ts";
import { authenticateCommand } from "./commands/authenticate.ts";
import { capabilityCommand } from "./commands/capability.ts";
import { compressCommand } from "./commands/compress.ts";
import { copyCommand, moveCommand, uidCopyCommand, uidMoveCommand } from "./commands/copy.ts";
import { createCommand } from "./commands/create.ts";
import { deleteCommand } from "./commands/delete.ts";
import { enableCommand } from "./commands/enable.ts";
import { expungeCommand, uidExpungeCommand } from "./commands/expunge.ts";
import { fetchCommand, uidFetchCommand } from "./commands/fetch.ts";
import { idCommand } from "./commands/id.ts";
import { idleCommand } from "./commands/idle.ts";
import { listCommand, lsubCommand } from "./commands/list.ts";
import { loginCommand } from "./commands/login.ts";
import { logoutCommand } from "./commands/logout.ts";
import { namespaceCommand } from "./commands/namespace.ts";
import { checkCommand, noopCommand } from "./commands/noop.ts";
import { getQuotaCommand, getQuotaRootCommand, setQuotaCommand } from "./commands/quota.ts";
import { renameCommand } from "./commands/rename.ts";
import { searchCommand, uidSearchCommand } from "./commands/search.ts";
import { closeCommand, examineCommand, selectCommand, unselectCommand } from "./commands/select.ts";
import { sortCommand, uidSortCommand } from "./commands/sort.ts";
import { starttlsCommand } from "./commands/starttls.ts";
import { statusCommand } from "./commands/status.ts";
import { storeCommand, uidStoreCommand } from "./commands/store.ts";
import { subscribeCommand, unsubscribeCommand } from "./commands/subscribe.ts";
import { threadCommand, uidThreadCommand } from "./commands/thread.ts";

const ENTRIES: CommandEntry[] = [
  // any state (RFC 3501 §6.1)
  capabilityCommand,
  noopCommand,
  logoutCommand,
  idCommand,
  // not authenticated (§6.2)
  starttlsCommand,
  authenticateCommand,
  loginCommand,
  // authenticated (§6.3)
  enableCommand,
  compressCommand,
  namespaceCommand,
  selectCommand,
  examineCommand,
  createCommand,
  deleteCommand,
  renameCommand,
  subscribeCommand,
  unsubscribeCommand,
  listCommand,
  lsubCommand,
  statusCommand,
  appendCommand,
  idleCommand,
  getQuotaCommand,
  getQuotaRootCommand,
  setQuotaCommand,
  // selected (§6.4)
  checkCommand,
  closeCommand,
  unselectCommand,
  expungeCommand,
  uidExpungeCommand,
  searchCommand,
  uidSearchCommand,
  fetchCommand,
  uidFetchCommand,
  storeCommand,
  uidStoreCommand,
  copyCommand,
  uidCopyCommand,
  moveCommand,
  uidMoveCommand,
  sortCommand,
  uidSortCommand,
  threadCommand,
  uidThreadCommand,
];

export const COMMAND_TABLE: ReadonlyMap<string, CommandEntry> = new Map(ENTRIES.map((entry) => [entry.name, entry]));
