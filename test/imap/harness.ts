/**
 * Test harness for the IMAP server: a real server on a real loopback socket,
 * the in-memory store, a small in-test authenticator, and a raw wire client
 * that reads responses literal-aware so transcripts can be asserted exactly.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { randomBytes } from "node:crypto";
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, type DeflateRaw } from "node:zlib";
import { pino } from "pino";
import type { AuthenticatedData, Authenticator } from "../../storage-node/auth/types.ts";
import { createImapServer, type ImapServer, type ImapServerOptions } from "../../storage-node/imap/server.ts";
import { createMemoryStore } from "../../storage-node/store/memory-store.ts";
import type { MailStore } from "../../storage-node/store/types.ts";

export interface TestUser {
  address: string;
  password: string;
  mailboxId: string;
  key: Uint8Array;
  quotaBytes: number | null;
  imap: boolean;
}

/** A fake authenticator for protocol tests: a fixed table of users. */
export class TableAuthenticator implements Authenticator {
  readonly users = new Map<string, TestUser>();
  calls = 0;

  add(address: string, options: Partial<TestUser> = {}): TestUser {
    const user: TestUser = {
      address,
      password: options.password ?? randomBytes(18).toString("base64url"),
      mailboxId: options.mailboxId ?? randomBytes(16).toString("hex"),
      key: options.key ?? new Uint8Array(randomBytes(32)),
      quotaBytes: options.quotaBytes ?? null,
      imap: options.imap ?? true,
    };
    this.users.set(address, user);
    return user;
  }

  async authenticate(address: string, password: string): Promise<AuthenticatedData | null> {
    this.calls++;
    const user = this.users.get(address);
    if (!user || user.password !== password) return null;
    return {
      address,
      aliasId: `alias-${user.mailboxId}`,
      mailboxId: user.mailboxId,
      passwordId: "p1",
      mailboxKey: user.key,
      homeNode: null,
      quotaBytes: user.quotaBytes,
      generation: 0,
      imap: user.imap,
    };
  }
}

export interface TestServer {
  port: number;
  tlsPort: number | null;
  server: ImapServer;
  store: MailStore;
  auth: TableAuthenticator;
  user: TestUser;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<ImapServerOptions> = {}): Promise<TestServer> {
  const store = options.store ?? createMemoryStore();
  const auth = new TableAuthenticator();
  const user = auth.add("alice@example.test");
  const server = createImapServer({
    store,
    authenticator: options.authenticator ?? auth,
    logger: pino({ level: "silent" }),
    ...options,
  });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  let tlsPort: number | null = null;
  if (options.tls) tlsPort = (await server.listen({ port: 0, host: "127.0.0.1", implicitTls: true })).port;
  return {
    port,
    tlsPort,
    server,
    store,
    auth,
    user,
    async close() {
      await server.close();
      await store.close();
    },
  };
}

export interface TaggedResult {
  /** Untagged and continuation lines received before the tagged line, literals inlined. */
  lines: string[];
  /** The tagged completion line, e.g. "A1 OK [READ-WRITE] SELECT completed." */
  tagged: string;
  status: "OK" | "NO" | "BAD";
}

/** A raw IMAP client: writes bytes, reads whole response lines (with literals). */
export class WireClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closed = false;
  private tagCounter = 0;
  private deflate: DeflateRaw | null = null;

  constructor(public socket: Socket) {
    this.listen(socket);
  }

  static async connect(port: number, tls = false): Promise<WireClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = tls
        ? tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(s))
        : netConnect({ port, host: "127.0.0.1" }, () => resolve(s));
      s.once("error", reject);
    });
    return new WireClient(socket);
  }

  private listen(socket: Socket): void {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {
      this.closed = true;
      this.wake();
    });
  }

  /** After STARTTLS: continue over TLS on the same TCP connection. */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners("data");
    const secure = await new Promise<Socket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  /** After COMPRESS DEFLATE: both directions go through raw deflate (RFC 4978). */
  compress(): void {
    const socket = this.socket;
    socket.removeAllListeners("data");
    socket.removeAllListeners("close");
    const inflate = createInflateRaw();
    inflate.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    // Inflation is asynchronous: the connection counts as closed only once the last bytes are inflated.
    inflate.on("close", () => {
      this.closed = true;
      this.wake();
    });
    inflate.on("error", () => inflate.destroy());
    socket.on("close", () => inflate.end());
    socket.on("data", (chunk: Buffer) => inflate.write(chunk));
    const deflate = createDeflateRaw();
    deflate.on("data", (chunk: Buffer) => socket.write(chunk));
    this.deflate = deflate;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer.toString("latin1"))}`);
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  write(data: string | Buffer): void {
    if (this.deflate) {
      this.deflate.write(data);
      this.deflate.flush(zlibConstants.Z_SYNC_FLUSH);
    } else this.socket.write(data);
  }

  /** One response line with any literals inlined as `{n}\r\n<bytes>`. Null when the server closed. */
  async readLine(): Promise<string | null> {
    let scanFrom = 0;
    for (;;) {
      const lf = this.buffer.indexOf("\r\n", scanFrom);
      if (lf >= 0) {
        const literal = literalBefore(this.buffer, scanFrom, lf);
        if (literal >= 0) {
          const end = lf + 2 + literal;
          while (this.buffer.length < end) await this.more();
          scanFrom = end;
          continue;
        }
        const head = this.buffer.subarray(0, lf).toString("utf8");
        this.buffer = this.buffer.subarray(lf + 2);
        return head;
      }
      if (this.closed) return null;
      await this.more();
    }
  }

  nextTag(): string {
    return `A${++this.tagCounter}`;
  }

  /** Sends `tag text` and reads up to the tagged completion. */
  async command(text: string, tag = this.nextTag()): Promise<TaggedResult> {
    this.write(`${tag} ${text}\r\n`);
    return this.readTagged(tag);
  }

  async readTagged(tag: string): Promise<TaggedResult> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      if (line === null) throw new Error(`closed before ${tag} completed; got ${JSON.stringify(lines)}`);
      if (line.startsWith(`${tag} `)) {
        const status = line.slice(tag.length + 1).split(" ")[0] as TaggedResult["status"];
        return { lines, tagged: line, status };
      }
      lines.push(line);
    }
  }

  async login(user: TestUser): Promise<void> {
    const result = await this.command(`LOGIN ${user.address} ${quote(user.password)}`);
    if (result.status !== "OK") throw new Error(`login failed: ${result.tagged}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Size of the literal `{n}` or `~{n}` that ends buffer[from, lf), or -1 (only the tail is looked at). */
function literalBefore(buffer: Buffer, from: number, lf: number): number {
  if (lf - from < 3 || buffer[lf - 1] !== 0x7d) return -1;
  let i = lf - 2;
  while (i >= from && buffer[i] >= 0x30 && buffer[i] <= 0x39) i--;
  if (i === lf - 2 || i < from || buffer[i] !== 0x7b) return -1;
  return Number(buffer.subarray(i + 1, lf - 1).toString("latin1"));
}

export function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Connects, reads the greeting, and optionally logs in. */
export async function connectClient(server: TestServer, options: { login?: boolean; tls?: boolean } = {}): Promise<WireClient> {
  const client = await WireClient.connect(options.tls ? (server.tlsPort as number) : server.port, options.tls);
  const greeting = await client.readLine();
  if (!greeting?.startsWith("* OK")) throw new Error(`unexpected greeting ${greeting}`);
  if (options.login !== false) await client.login(server.user);
  return client;
}

export function message(subject: string, body = "Hello.\r\n", extra = ""): string {
  return `From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: ${subject}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, "")}@example.test>\r\n${extra}\r\n${body}`;
}

/** APPENDs with a synchronizing literal, following the continuation. */
export async function appendMessage(client: WireClient, folder: string, body: string, flags = ""): Promise<TaggedResult> {
  const tag = client.nextTag();
  const bytes = Buffer.from(body);
  client.write(`${tag} APPEND ${folder}${flags ? ` (${flags})` : ""} {${bytes.length}}\r\n`);
  const cont = await client.readLine();
  if (!cont?.startsWith("+")) {
    return { lines: [], tagged: cont ?? "", status: (cont?.split(" ")[1] ?? "BAD") as TaggedResult["status"] };
  }
  client.write(Buffer.concat([bytes, Buffer.from("\r\n")]));
  return client.readTagged(tag);
}
