/**
 * Lexer for structured header fields (RFC 5322 §3.2, RFC 2045 §5.1 tokens).
 *
 * Invariants:
 * - Input is one unfolded header value as a binary string (bounded by
 *   MIME_MAX_HEADER_FIELD_BYTES), output a flat token list; one pass, no
 *   backtracking, so hostile input is linear.
 * - Never throws: unterminated quoted strings, comments and domain literals
 *   end at the end of the value.
 * - Quoted strings are returned unescaped; comments keep their text (the
 *   address parser uses a trailing comment as a display name, like Dovecot).
 */

export type TokenKind = "atom" | "quoted" | "special" | "literal" | "comment";

export interface Token {
  kind: TokenKind;
  text: string;
}

/** RFC 5322 specials (addresses). */
export const ADDRESS_SPECIALS = '()<>@,;:\\".[]';
/** RFC 2045 tspecials (Content-Type and friends). */
export const MIME_SPECIALS = '()<>@,;:\\"/[]?=';

export function tokenize(s: string, specials: string): Token[] {
  const out: Token[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      i++;
      continue;
    }
    if (c === 0x28) {
      // Comment, possibly nested (RFC 5322 §3.2.2).
      let depth = 1;
      let text = "";
      i++;
      while (i < n && depth > 0) {
        const d = s[i];
        if (d === "\\" && i + 1 < n) {
          text += s[i + 1];
          i += 2;
          continue;
        }
        if (d === "(") depth++;
        else if (d === ")") {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
        }
        text += d;
        i++;
      }
      out.push({ kind: "comment", text });
      continue;
    }
    if (c === 0x22) {
      let text = "";
      i++;
      while (i < n) {
        const d = s[i];
        if (d === "\\" && i + 1 < n) {
          text += s[i + 1];
          i += 2;
          continue;
        }
        if (d === '"') {
          i++;
          break;
        }
        if (d !== "\r" && d !== "\n") text += d;
        i++;
      }
      out.push({ kind: "quoted", text });
      continue;
    }
    if (c === 0x5b && specials === ADDRESS_SPECIALS) {
      const close = s.indexOf("]", i + 1);
      const stop = close < 0 ? n : close + 1;
      out.push({ kind: "literal", text: s.slice(i, stop) });
      i = stop;
      continue;
    }
    const ch = s[i];
    if (specials.includes(ch)) {
      out.push({ kind: "special", text: ch });
      i++;
      continue;
    }
    if (c < 0x20 || c === 0x7f) {
      i++;
      continue;
    }
    const startAtom = i;
    while (i < n) {
      const d = s.charCodeAt(i);
      if (d <= 0x20 || d === 0x7f || specials.includes(s[i])) break;
      i++;
    }
    out.push({ kind: "atom", text: s.slice(startAtom, i) });
  }
  return out;
}
