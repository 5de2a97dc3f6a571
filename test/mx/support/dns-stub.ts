/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: answers TXT
 * queries from a table, NXDOMAIN for everything else. Enough for SPF, DKIM
 * and DMARC look-ups pointed here through the `dnsServers` setting.
 */
import { createSocket, type Socket } from "node:dgram";

export interface DnsStub {
  /** "127.0.0.1:port", ready for the dnsServers setting. */
  server: string;
  queries: string[];
  close(): Promise<void>;
}

const TXT = 16;

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

export async function startDnsStub(txt: Record<string, string>): Promise<DnsStub> {
  const records = new Map(Object.entries(txt).map(([k, v]) => [k.toLowerCase(), v]));
  const queries: string[] = [];
  const socket: Socket = createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const type = msg.readUInt16BE(end);
    queries.push(`${name}/${type}`);
    const question = msg.subarray(12, end + 4);
    const value = type === TXT ? records.get(name) : undefined;
    const known = [...records.keys()].some((k) => k === name);
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8400 | (known ? 0 : 3), 2); // QR, AA; NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(value === undefined ? 0 : 1, 6);
    const parts: Uint8Array[] = [header, question];
    if (value !== undefined) {
      const rdata = txtRdata(value);
      const answer = Buffer.alloc(12);
      answer.writeUInt16BE(0xc00c, 0);
      answer.writeUInt16BE(TXT, 2);
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
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
