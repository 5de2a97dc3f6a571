/**
 * Reads the golden corpus: `test/golden/messages/<name>.eml` and Dovecot's
 * recorded answers `test/golden/dovecot/<name>.txt` (entries
 * `<item> <length>\n<bytes>\n`, written by scripts/golden-dovecot.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), "../golden");

export function goldenNames(): string[] {
  return readdirSync(join(goldenDir, "messages"))
    .filter((f) => f.endsWith(".eml"))
    .map((f) => f.slice(0, -4))
    .sort();
}

export function goldenMessage(name: string): Buffer {
  return readFileSync(join(goldenDir, "messages", `${name}.eml`));
}

/** Item name → exact bytes as a binary string, in recorded order. */
export function goldenAnswers(name: string): Map<string, string> {
  const data = readFileSync(join(goldenDir, "dovecot", `${name}.txt`));
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf(0x0a, pos);
    const head = data.subarray(pos, nl).toString("latin1");
    const sp = head.lastIndexOf(" ");
    const len = Number(head.slice(sp + 1));
    out.set(head.slice(0, sp), data.subarray(nl + 1, nl + 1 + len).toString("latin1"));
    pos = nl + 1 + len + 1;
  }
  return out;
}

/** The message as Dovecot serves it: every bare LF becomes CRLF. */
export function toCrlf(raw: Uint8Array): Buffer {
  const s = Buffer.from(raw).toString("latin1");
  return Buffer.from(s.replace(/\r?\n/g, "\r\n"), "latin1");
}

/** Decodes an IMAP nstring (quoted, literal or NIL) to its bytes as a binary string. */
export function imapValue(v: string): string | null {
  if (v === "NIL") return null;
  if (v.startsWith("{") || v.startsWith("~{")) return v.slice(v.indexOf("}") + 3);
  if (v.startsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, "$1");
  return v;
}

/** "1.2.HEADER.FIELDS (SUBJECT FROM)" → part path, specifier, field names. */
export function parseSectionName(spec: string): { part: number[]; specifier: string; fields?: string[] } {
  const paren = spec.indexOf(" (");
  const head = paren < 0 ? spec : spec.slice(0, paren);
  const fields = paren < 0 ? undefined : spec.slice(paren + 2, -1).split(" ");
  const items = head.split(".");
  const part: number[] = [];
  while (items.length > 0 && /^\d+$/.test(items[0])) part.push(Number(items.shift()));
  return { part, specifier: items.join("."), fields };
}
