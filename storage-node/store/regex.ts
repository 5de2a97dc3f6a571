/**
 * A linear-time regular expression matcher for SEARCH with a regex key.
 *
 * Invariants:
 * - Matching runs a Pike VM (Thompson NFA simulation): time is
 *   O(pattern program size × text length), with no backtracking, so a hostile
 *   pattern cannot stall the mailbox's worker thread.
 * - Pattern length and compiled program size are capped (limits.ts); anything
 *   over the cap or outside the syntax below is refused with StoreError("invalid").
 *
 * Syntax (a subset of POSIX ERE / JavaScript):
 *   literals; `.` (any char except newline, unless flag `s`);
 *   escapes `\d \D \w \W \s \S` and `\` + any punctuation for a literal, `\n \r \t`;
 *   classes `[abc]`, `[a-z]`, `[^…]` (escapes allowed inside);
 *   groups `( … )` and `(?: … )` (no captures are reported);
 *   alternation `|`; quantifiers `* + ?` and `{m}`, `{m,}`, `{m,n}` (greedy / lazy
 *   forms are the same here: only "does it match" is answered);
 *   anchors `^` and `$` (start/end of text, or of a line with flag `m`).
 * Flags: `i` (case-insensitive), `m` (multi-line anchors), `s` (dot matches newline).
 * Not supported: backreferences, lookaround, Unicode property classes.
 */

import { REGEX_MAX_PATTERN_CHARS, REGEX_MAX_PROGRAM_SIZE } from "../limits.ts";
import { StoreError } from "./types.ts";

type CharTest = (c: string) => boolean;

type Node =
  | { t: "char"; test: CharTest }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; left: Node; right: Node }
  | { t: "rep"; node: Node; min: number; max: number } // max = Infinity for unbounded
  | { t: "bol" }
  | { t: "eol" }
  | { t: "empty" };

type Inst =
  | { op: "char"; test: CharTest }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "bol" }
  | { op: "eol" }
  | { op: "match" };

function invalid(msg: string): never {
  throw new StoreError("invalid", `regex: ${msg}`);
}

const isDigit: CharTest = (c) => c >= "0" && c <= "9";
const isWord: CharTest = (c) => /[A-Za-z0-9_]/.test(c);
const isSpace: CharTest = (c) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";

class Parser {
  private pos = 0;
  constructor(
    private readonly src: string,
    private readonly ci: boolean,
    private readonly dotAll: boolean,
  ) {}

  parse(): Node {
    const n = this.alt();
    if (this.pos < this.src.length) invalid("unexpected ')'");
    return n;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private lit(ch: string): CharTest {
    if (!this.ci) return (c) => c === ch;
    const l = ch.toLowerCase();
    return (c) => c.toLowerCase() === l;
  }

  private alt(): Node {
    let left = this.seq();
    while (this.peek() === "|") {
      this.pos++;
      left = { t: "alt", left, right: this.seq() };
    }
    return left;
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length && this.peek() !== "|" && this.peek() !== ")") {
      items.push(this.repeat());
    }
    return items.length === 0 ? { t: "empty" } : items.length === 1 ? items[0] : { t: "seq", items };
  }

  private repeat(): Node {
    let node = this.atom();
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === "*") [min, max] = [0, Infinity];
      else if (c === "+") [min, max] = [1, Infinity];
      else if (c === "?") [min, max] = [0, 1];
      else if (c === "{") {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
        if (!m) invalid("bad repetition");
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        if (max < min || min > 1000 || (max !== Infinity && max > 1000)) invalid("bad repetition bounds");
        this.pos += m[0].length - 1;
      } else return node;
      this.pos++;
      if (this.peek() === "?") this.pos++; // lazy form: same answer for a yes/no match
      if (node.t === "bol" || node.t === "eol") invalid("quantified anchor");
      node = { t: "rep", node, min, max };
    }
  }

  private atom(): Node {
    const c = this.src[this.pos++];
    switch (c) {
      case "(": {
        if (this.src.startsWith("?:", this.pos)) this.pos += 2;
        else if (this.peek() === "?") invalid("unsupported group");
        const inner = this.alt();
        if (this.peek() !== ")") invalid("missing ')'");
        this.pos++;
        return inner;
      }
      case "[":
        return { t: "char", test: this.cls() };
      case ".":
        return { t: "char", test: this.dotAll ? () => true : (ch) => ch !== "\n" };
      case "^":
        return { t: "bol" };
      case "$":
        return { t: "eol" };
      case "\\":
        return { t: "char", test: this.escape(false) };
      case "*":
      case "+":
      case "?":
      case "{":
        return invalid("nothing to repeat");
      default:
        return { t: "char", test: this.lit(c) };
    }
  }

  private escape(inClass: boolean): CharTest {
    const c = this.src[this.pos++];
    if (c === undefined) invalid("trailing backslash");
    switch (c) {
      case "d":
        return isDigit;
      case "D":
        return (x) => !isDigit(x);
      case "w":
        return isWord;
      case "W":
        return (x) => !isWord(x);
      case "s":
        return isSpace;
      case "S":
        return (x) => !isSpace(x);
      case "n":
        return this.lit("\n");
      case "r":
        return this.lit("\r");
      case "t":
        return this.lit("\t");
      default:
        if (/[A-Za-z0-9]/.test(c) && !inClass) invalid(`unsupported escape \\${c}`);
        return this.lit(c);
    }
  }

  private cls(): CharTest {
    let negate = false;
    if (this.peek() === "^") {
      negate = true;
      this.pos++;
    }
    const tests: CharTest[] = [];
    let first = true;
    for (;;) {
      const c = this.src[this.pos++];
      if (c === undefined) invalid("missing ']'");
      if (c === "]" && !first) break;
      first = false;
      if (c === "\\") {
        tests.push(this.escape(true));
        continue;
      }
      if (this.peek() === "-" && this.src[this.pos + 1] !== undefined && this.src[this.pos + 1] !== "]") {
        this.pos++;
        let hi = this.src[this.pos++];
        if (hi === "\\") hi = this.src[this.pos++] ?? invalid("trailing backslash");
        if (hi < c) invalid("bad class range");
        const lo = c;
        tests.push(
          this.ci
            ? (x) => {
                const a = x.toLowerCase();
                const b = x.toUpperCase();
                return (a >= lo && a <= hi) || (b >= lo && b <= hi);
              }
            : (x) => x >= lo && x <= hi,
        );
        continue;
      }
      tests.push(this.lit(c));
    }
    return negate ? (x) => !tests.some((t) => t(x)) : (x) => tests.some((t) => t(x));
  }
}

function compile(node: Node, prog: Inst[]): void {
  if (prog.length > REGEX_MAX_PROGRAM_SIZE) invalid("pattern too complex");
  switch (node.t) {
    case "char":
      prog.push({ op: "char", test: node.test });
      return;
    case "bol":
      prog.push({ op: "bol" });
      return;
    case "eol":
      prog.push({ op: "eol" });
      return;
    case "empty":
      return;
    case "seq":
      for (const n of node.items) compile(n, prog);
      return;
    case "alt": {
      const split: Inst = { op: "split", x: prog.length + 1, y: 0 };
      prog.push(split);
      compile(node.left, prog);
      const jmp: Inst = { op: "jmp", x: 0 };
      prog.push(jmp);
      split.y = prog.length;
      compile(node.right, prog);
      jmp.x = prog.length;
      return;
    }
    case "rep": {
      for (let i = 0; i < node.min; i++) compile(node.node, prog);
      if (node.max === Infinity) {
        const split: Inst = { op: "split", x: prog.length + 1, y: 0 };
        const at = prog.length;
        prog.push(split);
        compile(node.node, prog);
        prog.push({ op: "jmp", x: at });
        split.y = prog.length;
      } else {
        const pending: { op: "split"; x: number; y: number }[] = [];
        for (let i = node.min; i < node.max; i++) {
          const split = { op: "split" as const, x: prog.length + 1, y: 0 };
          prog.push(split);
          pending.push(split);
          compile(node.node, prog);
        }
        for (const s of pending) s.y = prog.length;
      }
      return;
    }
  }
}

export interface CompiledRegex {
  test(text: string): boolean;
}

/** Compiles `pattern` with `flags` (subset of "ims"); throws StoreError("invalid"). */
export function compileRegex(pattern: string, flags = ""): CompiledRegex {
  if (pattern.length > REGEX_MAX_PATTERN_CHARS) invalid("pattern too long");
  if (!/^[ims]*$/.test(flags)) invalid("unsupported flags");
  const ast = new Parser(pattern, flags.includes("i"), flags.includes("s")).parse();
  const prog: Inst[] = [];
  compile(ast, prog);
  prog.push({ op: "match" });
  if (prog.length > REGEX_MAX_PROGRAM_SIZE) invalid("pattern too complex");
  const multiline = flags.includes("m");
  return { test: (text) => run(prog, text, multiline) };
}

function run(prog: Inst[], text: string, multiline: boolean): boolean {
  const n = prog.length;
  let clist = new Int32Array(n);
  let nlist = new Int32Array(n);
  let ccount = 0;
  let ncount = 0;
  const mark = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n * 2 + 2);

  // Adds pc and its epsilon closure at text position i; returns true on reaching match.
  const add = (list: Int32Array, count: number, pc0: number, i: number, gen: number): [number, boolean] => {
    let sp = 0;
    stack[sp++] = pc0;
    let matched = false;
    while (sp > 0) {
      const pc = stack[--sp];
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      const inst = prog[pc];
      switch (inst.op) {
        case "jmp":
          stack[sp++] = inst.x;
          break;
        case "split":
          stack[sp++] = inst.y;
          stack[sp++] = inst.x;
          break;
        case "bol":
          if (i === 0 || (multiline && text[i - 1] === "\n")) stack[sp++] = pc + 1;
          break;
        case "eol":
          if (i === text.length || (multiline && text[i] === "\n")) stack[sp++] = pc + 1;
          break;
        case "match":
          matched = true;
          break;
        case "char":
          list[count++] = pc;
          break;
      }
    }
    return [count, matched];
  };

  let gen = 0;
  for (let i = 0; i <= text.length; i++) {
    // Unanchored search: a new thread starts at every position.
    let m: boolean;
    [ccount, m] = add(clist, ccount, 0, i, gen);
    if (m) return true;
    if (i === text.length) break;
    const ch = text[i];
    gen++;
    ncount = 0;
    for (let k = 0; k < ccount; k++) {
      const inst = prog[clist[k]] as { op: "char"; test: CharTest };
      if (inst.test(ch)) {
        [ncount, m] = add(nlist, ncount, clist[k] + 1, i + 1, gen);
        if (m) return true;
      }
    }
    [clist, nlist] = [nlist, clist];
    ccount = ncount;
  }
  return false;
}
