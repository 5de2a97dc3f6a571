/**
 * Content-Type / Content-Disposition parsing (RFC 2045 §5.1, RFC 2183,
 * RFC 2231 §3 parameter continuations).
 *
 * Invariants:
 * - Parameters keep their order of first appearance; at most
 *   MIME_MAX_PARAMETERS are kept.
 * - RFC 2231 continuations (`name*0`, `name*1*`, …) are merged into one
 *   parameter. When the first section is extended (`*0*`), the merged name is
 *   `name*` and the value stays in `charset'lang'%XX` form — that is what
 *   BODYSTRUCTURE shows; `decodeParameter` turns it into text.
 * - A malformed value yields null (the caller applies RFC 2045 defaults), never
 *   an exception.
 */
import { MIME_MAX_PARAMETERS } from "../limits.ts";
import { MIME_SPECIALS, tokenize, type Token } from "./rfc822-lexer.ts";
import { decodeCharset } from "./charset.ts";

export interface ContentTypeData {
  type: string;
  subtype: string;
  params: [string, string][];
}

export interface DispositionData {
  type: string;
  params: [string, string][];
}

function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.kind !== "comment");
}

/** Parses `type/subtype; params`; null when there is no valid type/subtype. */
export function parseContentType(value: string): ContentTypeData | null {
  const t = significant(tokenize(value, MIME_SPECIALS));
  if (t.length < 1 || t[0].kind !== "atom") return null;
  // "text" without "/subtype" keeps the type with an empty subtype (as Dovecot).
  if (t.length < 3 || t[1].kind !== "special" || t[1].text !== "/" || t[2].kind !== "atom") {
    return { type: t[0].text, subtype: "", params: parseParams(t, 1) };
  }
  return { type: t[0].text, subtype: t[2].text, params: parseParams(t, 3) };
}

/** Parses `disposition-type; params`; null when the type is missing. */
export function parseDisposition(value: string): DispositionData | null {
  const t = significant(tokenize(value, MIME_SPECIALS));
  if (t.length < 1 || t[0].kind !== "atom") return null;
  return { type: t[0].text, params: parseParams(t, 1) };
}

function parseParams(t: Token[], from: number): [string, string][] {
  const raw: [string, string][] = [];
  let i = from;
  while (i < t.length) {
    if (!(t[i].kind === "special" && t[i].text === ";")) {
      i++;
      continue;
    }
    i++;
    if (i + 2 < t.length && t[i].kind === "atom" && t[i + 1].kind === "special" && t[i + 1].text === "=") {
      const v = t[i + 2];
      if (v.kind === "atom" || v.kind === "quoted") {
        raw.push([t[i].text, v.text]);
        i += 3;
        continue;
      }
    }
  }
  return mergeContinuations(raw).slice(0, MIME_MAX_PARAMETERS);
}

const SECTION = /^(.*?)\*(\d{1,3})(\*?)$/;

/** RFC 2231 §3: merges `name*N[*]` sections in numeric order. */
export function mergeContinuations(raw: [string, string][]): [string, string][] {
  if (!raw.some(([k]) => k.includes("*"))) return raw;
  const out: [string, string][] = [];
  const groups = new Map<string, { index: number; sections: Map<number, { value: string; ext: boolean }> }>();
  for (const [k, v] of raw) {
    const m = SECTION.exec(k);
    if (!m) {
      out.push([k, v]);
      continue;
    }
    const base = m[1];
    const key = base.toLowerCase();
    let g = groups.get(key);
    if (!g) {
      g = { index: out.length, sections: new Map() };
      groups.set(key, g);
      out.push([base, ""]);
    }
    const n = Number(m[2]);
    if (!g.sections.has(n)) g.sections.set(n, { value: v, ext: m[3] === "*" });
  }
  for (const g of groups.values()) {
    const base = out[g.index][0];
    let value = "";
    let extended = false;
    for (let n = 0; g.sections.has(n); n++) {
      const s = g.sections.get(n)!;
      if (n === 0) extended = s.ext;
      // Later unencoded sections inside an extended value are literal text.
      value += extended && !s.ext ? percentEncode(s.value) : s.value;
    }
    out[g.index] = [extended ? `${base}*` : base, value];
  }
  return out;
}

function percentEncode(s: string): string {
  return s.replace(/[%]/g, "%25");
}

/** Value of a parameter by name, decoded to text: handles `name*` RFC 2231 values. */
export function decodeParameter(params: [string, string][] | null, name: string): string | null {
  if (!params) return null;
  const lower = name.toLowerCase();
  for (const [k, v] of params) {
    const lk = k.toLowerCase();
    if (lk === lower) return v;
    if (lk === `${lower}*`) return decodeRfc2231Value(v);
  }
  return null;
}

/** `charset'language'percent-encoded` → text (RFC 2231 §4). */
export function decodeRfc2231Value(v: string): string {
  const first = v.indexOf("'");
  const second = first < 0 ? -1 : v.indexOf("'", first + 1);
  if (second < 0) return v;
  const charset = v.slice(0, first) || "us-ascii";
  const encoded = v.slice(second + 1);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x25 && i + 2 < encoded.length && /^[0-9a-fA-F]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c & 0xff);
  }
  return decodeCharset(Uint8Array.from(bytes), charset);
}
