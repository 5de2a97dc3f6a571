/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: answers TXT,
 * MX, A and AAAA queries from a zone table, NODATA for a known name without
 * records of the asked type, NXDOMAIN for everything else. Enough for SPF,
 * DKIM, DMARC, ARC, MTA-STS and next-hop look-ups pointed here through the
 * `dnsServers` setting. The zone can be changed while the stub runs.
 */
import { createSocket, type Socket } from "node:dgram";
import { isIPv4, isIPv6 } from "node:net";

export interface DnsRecordsData {
  TXT?: string | string[];
  /** Preference and exchange; exchange "." is a null MX (RFC 7505). */
  MX?: { preference: number; exchange: string }[];
  A?: string[];
  AAAA?: string[];
}

export interface DnsStub {
  /** "127.0.0.1:port", ready for the dnsServers setting. */
  server: string;
  queries: string[];
  /** Adds or replaces the records of a name. */
  set(name: string, records: DnsRecordsData): void;
  close(): Promise<void>;
}

const TYPES = { A: 1, MX: 15, TXT: 16, AAAA: 28 } as const;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  while (pos < msg.length && msg[pos] !== 0) {
    const len = msg[pos];
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString("latin1"));
    pos += 1 + len;
  }
  return { name: labels.join(".").toLowerCase(), end: pos + 1 };
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l.length > 0);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "latin1")])), Buffer.from([0])]);
}

function txtRdata(text: string): Buffer {
  const parts: Buffer[] = [];
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const piece = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([piece.length]), piece);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(parts);
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail = ""] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function rdataOf(type: number, records: DnsRecordsData): Buffer[] {
  switch (type) {
    case TYPES.TXT:
      return records.TXT === undefined ? [] : (Array.isArray(records.TXT) ? records.TXT : [records.TXT]).map(txtRdata);
    case TYPES.MX:
      return (records.MX ?? []).map((mx) => {
        const pref = Buffer.alloc(2);
        pref.writeUInt16BE(mx.preference, 0);
        return Buffer.concat([pref, encodeName(mx.exchange)]);
      });
    case TYPES.A:
      return (records.A ?? []).filter((ip) => isIPv4(ip)).map((ip) => Buffer.from(ip.split(".").map(Number)));
    case TYPES.AAAA:
      return (records.AAAA ?? []).filter((ip) => isIPv6(ip)).map(ipv6Bytes);
    default:
      return [];
  }
}

/** `txt`: name → TXT value (the original form); `zone`: name → records of any supported type. */
export async function startDnsStub(txt: Record<string, string>, zone: Record<string, DnsRecordsData> = {}): Promise<DnsStub> {
  const records = new Map<string, DnsRecordsData>(Object.entries(txt).map(([k, v]) => [k.toLowerCase(), { TXT: v }]));
  for (const [name, data] of Object.entries(zone)) records.set(name.toLowerCase(), { ...records.get(name.toLowerCase()), ...data });
  const queries: string[] = [];
  const socket: Socket = createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const type = msg.readUInt16BE(end);
    queries.push(`${name}/${type}`);
    const question = msg.subarray(12, end + 4);
    const entry = records.get(name);
    const answers = entry ? rdataOf(type, entry) : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8400 | (entry ? 0 : 3), 2); // QR, AA; NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const parts: Uint8Array[] = [header, question];
    for (const rdata of answers) {
      const answer = Buffer.alloc(12);
      answer.writeUInt16BE(0xc00c, 0);
      answer.writeUInt16BE(type, 2);
      answer.writeUInt16BE(1, 4);
      answer.writeUInt32BE(60, 6);
      answer.writeUInt16BE(rdata.length, 10);
      parts.push(answer, rdata);
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const port = socket.address().port;
  return {
    server: `127.0.0.1:${port}`,
    queries,
    set(name, data) {
      records.set(name.toLowerCase(), data);
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
