/**
 * HTML reduced to plain text for full-text search.
 *
 * Invariants:
 * - One forward pass over the input; `<script>`/`<style>` contents are
 *   skipped with a bounded search, so unclosed tags cannot make it quadratic.
 * - Block-level tags become line breaks; character references are decoded
 *   (numeric ones and the common named ones); nothing throws.
 */

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  copy: "©",
  reg: "®",
  hellip: "…",
  mdash: "—",
  ndash: "–",
  laquo: "«",
  raquo: "»",
  euro: "€",
};

const BLOCK = new Set(["p", "br", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "hr"]);

export function htmlToText(html: string): string {
  let out = "";
  let i = 0;
  const n = html.length;
  const lower = html.toLowerCase();
  while (i < n) {
    const lt = html.indexOf("<", i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) out += decodeEntities(html.slice(i, textEnd));
    if (lt < 0) break;
    if (lower.startsWith("<!--", lt)) {
      const close = html.indexOf("-->", lt + 4);
      i = close < 0 ? n : close + 3;
      continue;
    }
    const gt = html.indexOf(">", lt + 1);
    if (gt < 0) break;
    const m = /^<\/?\s*([a-z0-9]+)/.exec(lower.slice(lt, Math.min(gt + 1, lt + 40)));
    const tag = m ? m[1] : "";
    i = gt + 1;
    if ((tag === "script" || tag === "style") && lower[lt + 1] !== "/") {
      const close = lower.indexOf(`</${tag}`, i);
      i = close < 0 ? n : close;
      continue;
    }
    if (BLOCK.has(tag)) out += "\n";
  }
  return out.replace(/[ \t\r\f\v]+/g, " ").replace(/ *\n[ \n]*/g, "\n").trim();
}

function decodeEntities(s: string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});/g, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : "";
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}
