/**
 * Folder name rules shared by every store implementation.
 *
 * Invariants:
 * - Names are Unicode, "/" separates levels, no empty level, no control characters.
 * - "INBOX" is case-insensitive (RFC 3501 §5.1): any casing of the first level
 *   "inbox" is normalised to "INBOX", so "inbox/x" and "INBOX/x" are one folder.
 * - Comparison keys are the normalised names; nothing else is case-folded.
 */

import { STORE_MAX_FOLDER_DEPTH, STORE_MAX_FOLDER_NAME_CHARS } from "../limits.ts";
import { StoreError } from "./types.ts";

export const FOLDER_SEPARATOR = "/";

/** Normalises and validates a folder name; throws StoreError("invalid"). */
export function normalizeFolderName(name: string): string {
  if (typeof name !== "string" || name.length === 0) throw new StoreError("invalid", "empty folder name");
  if (name.length > STORE_MAX_FOLDER_NAME_CHARS) throw new StoreError("invalid", "folder name too long");
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new StoreError("invalid", "control character in folder name");
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) throw new StoreError("invalid", "folder name is not valid Unicode");
  const parts = name.split(FOLDER_SEPARATOR);
  if (parts.some((p) => p.length === 0)) throw new StoreError("invalid", "empty hierarchy level in folder name");
  if (parts.length > STORE_MAX_FOLDER_DEPTH) throw new StoreError("invalid", "folder hierarchy too deep");
  if (parts[0].toUpperCase() === "INBOX") parts[0] = "INBOX";
  return parts.join(FOLDER_SEPARATOR);
}

/** Parent names of a normalised name, outermost first ("a/b/c" → ["a", "a/b"]). */
export function folderAncestors(name: string): string[] {
  const parts = name.split(FOLDER_SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(FOLDER_SEPARATOR));
  return out;
}

/** True when `name` is strictly below `parent`. */
export function isFolderDescendant(name: string, parent: string): boolean {
  return name.startsWith(parent + FOLDER_SEPARATOR);
}
