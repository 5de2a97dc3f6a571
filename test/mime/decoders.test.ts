/**
 * Unit tests for the MIME decoders: RFC 2047 encoded words, RFC 2231
 * parameters, quoted-printable, base64 (with garbage), charsets, HTML text,
 * RFC 5256 base subjects and RFC 5322 dates.
 */
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { decodeEncodedWords } from "../../storage-node/mime/encoded-words.ts";
import { decodeParameter, decodeRfc2231Value, mergeContinuations, parseContentType } from "../../storage-node/mime/content-type.ts";
import { decodeBase64, decodeQuotedPrintable, decodeTransfer } from "../../storage-node/mime/transfer-encoding.ts";
import { decodeCharset } from "../../storage-node/mime/charset.ts";
import { htmlToText } from "../../storage-node/mime/html-text.ts";
import { baseSubject } from "../../storage-node/mime/base-subject.ts";
import { parseDate } from "../../storage-node/mime/date.ts";
import { imapString, imapStringForHumans } from "../../storage-node/mime/imap-format.ts";

const bin = (s: string): string => Buffer.from(s, "utf8").toString("latin1");
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

describe("RFC 2047 encoded words", () => {
  it("decodes B and Q words in several charsets", () => {
    expect(decodeEncodedWords("=?UTF-8?B?R3LDvMOfZQ==?=")).toBe("Grüße");
    expect(decodeEncodedWords("=?iso-8859-1?Q?Caf=E9_cr=E8me?=")).toBe("Café crème");
    expect(decodeEncodedWords("=?iso-8859-15?Q?10_=A4?=")).toBe("10 €");
    expect(decodeEncodedWords("=?windows-1252?Q?=93quoted=94?=")).toBe("“quoted”");
    expect(decodeEncodedWords("=?koi8-r?B?8NLJ18XU?=")).toBe("Привет");
    expect(decodeEncodedWords("=?shift_jis?B?grGC8YLJgr+CzQ==?=")).toBe("こんにちは");
    expect(decodeEncodedWords("=?gb2312?B?xOO6ww==?=")).toBe("你好");
    expect(decodeEncodedWords("=?big5?B?pKSk5Q==?=")).toBe("中文");
  });

  it("drops whitespace between adjacent words and joins split multi-byte characters", () => {
    expect(decodeEncodedWords("=?utf-8?q?a?= \r\n =?utf-8?q?b?=")).toBe("ab");
    // "é" (C3 A9) split across two words.
    expect(decodeEncodedWords("=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?=")).toBe("café");
    expect(decodeEncodedWords("x =?utf-8?q?a?= y")).toBe("x a y");
  });

  it("keeps malformed words and takes raw 8-bit text as UTF-8", () => {
    expect(decodeEncodedWords("=?utf-8?x?abc?=")).toBe("=?utf-8?x?abc?=");
    expect(decodeEncodedWords("=?utf-8?q?unterminated")).toBe("=?utf-8?q?unterminated");
    expect(decodeEncodedWords(bin("Grüße"))).toBe("Grüße");
    expect(decodeEncodedWords("\xe9t\xe9")).toBe("été");
  });

  it("accepts an RFC 2231 language suffix and unknown charsets", () => {
    expect(decodeEncodedWords("=?US-ASCII*EN?Q?Keith_Moore?=")).toBe("Keith Moore");
    expect(decodeEncodedWords("=?x-unknown?Q?abc?=")).toBe("abc");
  });
});

describe("RFC 2231 parameters", () => {
  it("merges continuations in numeric order and keeps the extended form", () => {
    const merged = mergeContinuations([
      ["title*1*", "%2A%2A%2Afun%2A%2A%2A%20"],
      ["title*0*", "us-ascii'en'This%20is%20even%20more%20"],
      ["title*2", "isn't it!"],
      ["charset", "utf-8"],
    ]);
    expect(merged).toEqual([
      ["title*", "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!"],
      ["charset", "utf-8"],
    ]);
    expect(decodeParameter(merged, "title")).toBe("This is even more ***fun*** isn't it!");
  });

  it("merges plain continuations into the plain name", () => {
    expect(mergeContinuations([["filename*0", "a"], ["filename*1", "b.txt"]])).toEqual([["filename", "ab.txt"]]);
  });

  it("stops at a missing section and ignores duplicates", () => {
    expect(mergeContinuations([["n*0", "a"], ["n*0", "x"], ["n*2", "c"]])).toEqual([["n", "a"]]);
  });

  it("decodes charset'lang'value with bad escapes kept", () => {
    expect(decodeRfc2231Value("utf-8''%E2%82%AC%20rates.txt")).toBe("€ rates.txt");
    expect(decodeRfc2231Value("iso-8859-1'de'%FCber%ZZ")).toBe("über%ZZ");
    expect(decodeRfc2231Value("no-quotes")).toBe("no-quotes");
  });

  it("parses quoted, unquoted, commented and duplicate parameters", () => {
    const ct = parseContentType('text/plain (c) ; charset = "us-ascii" (x); format=flowed; charset=utf-8; empty=""; broken');
    expect(ct).toEqual({ type: "text", subtype: "plain", params: [["charset", "us-ascii"], ["format", "flowed"], ["charset", "utf-8"], ["empty", ""]] });
    expect(parseContentType("text")).toEqual({ type: "text", subtype: "", params: [] });
    expect(parseContentType("")).toBeNull();
    expect(parseContentType("/plain")).toBeNull();
  });
});

describe("quoted-printable", () => {
  it("decodes escapes, soft breaks and strips transport padding", () => {
    expect(text(decodeQuotedPrintable(bytes("Caf=C3=A9 =\r\nlait  \r\nend=\n")))).toBe("Caf\xc3\xa9 lait\r\nend");
    expect(text(decodeQuotedPrintable(bytes("soft= \t\r\nbreak")))).toBe("softbreak");
  });

  it("keeps malformed escapes literally", () => {
    expect(text(decodeQuotedPrintable(bytes("a=ZZb=4")))).toBe("a=ZZb=4");
    expect(text(decodeQuotedPrintable(bytes("=")))).toBe("");
    expect(text(decodeQuotedPrintable(bytes("lower=e9")))).toBe("lower\xe9");
  });
});

describe("base64", () => {
  it("decodes across line breaks", () => {
    expect(text(decodeBase64(bytes("SGVs\r\nbG8g\nV29y bGQh")))).toBe("Hello World!");
  });

  it("ignores characters outside the alphabet and stops at padding", () => {
    expect(text(decodeBase64(bytes("SGVs!!bG8g\n***V29y\nbGQh=garbage")))).toBe("Hello World!");
    expect(text(decodeBase64(bytes("QQ==QUJD")))).toBe("A");
    expect(text(decodeBase64(bytes("QUJ")))).toBe("AB");
    expect(decodeBase64(bytes("\u00ff\u0000%%")).length).toBe(0);
  });

  it("decodes all 256 byte values", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(decodeBase64(bytes(Buffer.from(all).toString("base64")))).toEqual(all);
  });

  it("refuses unknown transfer encodings", () => {
    expect(decodeTransfer(bytes("x"), "x-uuencode")).toBeNull();
    expect(text(decodeTransfer(bytes("x"), "8BIT")!)).toBe("x");
  });
});

describe("charsets, HTML, base subject, dates, quoting", () => {
  it("decodes charsets and falls back for unknown labels", () => {
    expect(decodeCharset(bytes("\xe9"), "iso-8859-1")).toBe("é");
    expect(decodeCharset(bytes("\xc3\xa9"), "x-bogus")).toBe("é");
    expect(decodeCharset(bytes("\xe9"), "x-bogus")).toBe("é");
    expect(decodeCharset(bytes("\x82\xa0"), "cp932")).toBe("あ");
  });

  it("reduces HTML to text without script, style or comments", () => {
    expect(htmlToText("<p>Caf&eacute;&#33; <b>bold</b></p><script>x<y</script><style>p{}</style><!-- c -->&amp;&#x41;")).toBe("Caf&eacute;! bold\n&A");
    expect(htmlToText("<script>never closed")).toBe("");
    expect(htmlToText("a < b")).toBe("a");
  });

  it("computes RFC 5256 base subjects", () => {
    expect(baseSubject("Re: [list] Fwd: Re: topic (fwd)")).toBe("topic");
    expect(baseSubject("[Fwd: Re: hello]")).toBe("hello");
    expect(baseSubject("RE:   re: spaced\t out  ")).toBe("spaced out");
    expect(baseSubject("=?utf-8?q?Re=3A_caf=C3=A9?=")).toBe("café");
    expect(baseSubject("[only-blob]")).toBe("[only-blob]");
    expect(baseSubject("")).toBe("");
  });

  it("parses RFC 5322 dates with obsolete forms", () => {
    expect(parseDate("Mon, 7 Feb 1994 21:52:25 -0800 (PST)")).toBe(Date.UTC(1994, 1, 8, 5, 52, 25));
    expect(parseDate("7 Feb 94 21:52 EST")).toBe(Date.UTC(1994, 1, 8, 2, 52, 0));
    expect(parseDate("Tue, 1 Jul 2003 10:52:37 +0200")).toBe(Date.UTC(2003, 6, 1, 8, 52, 37));
    expect(parseDate("not a date")).toBeNull();
    expect(parseDate("32 Jan 2000 10:00 +0000")).toBeNull();
  });

  it("quotes IMAP strings like Dovecot", () => {
    expect(imapString("plain")).toBe('"plain"');
    expect(imapString('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(imapString('"""""')).toBe('{5}\r\n"""""');
    expect(imapString("caf\xe9")).toBe("{4}\r\ncaf\xe9");
    expect(imapStringForHumans("  two  spaces\r\n\tfold ")).toBe("{15}\r\ntwo spaces fold");
    expect(imapStringForHumans("   ")).toBe('""');
    expect(imapStringForHumans("ok")).toBe('"ok"');
  });
});
