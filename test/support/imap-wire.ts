/**
 * A minimal line-level IMAP client for end-to-end transcripts: send a tagged
 * command, collect every line up to its tagged completion.
 */
import { connect, type Socket } from "node:net";

export interface ImapWire {
  greeting: string;
  command(line: string): Promise<{ lines: string[]; status: string }>;
  /** Writes a raw line (CRLF added), e.g. IDLE or DONE. */
  send(line: string): void;
  /** The next line the server sent. */
  readLine(): Promise<string>;
  close(): void;
}

export async function openImapWire(port: number, host = "127.0.0.1"): Promise<ImapWire> {
  const socket: Socket = connect({ port, host });
  let buffer = "";
  let waiter: (() => void) | null = null;
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    waiter?.();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);

  async function readLine(): Promise<string> {
    for (;;) {
      const end = buffer.indexOf("\r\n");
      if (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return line;
      }
      const more = new Promise<void>((resolve) => (waiter = resolve));
      const done = await Promise.race([more.then(() => false), closed.then(() => true)]);
      waiter = null;
      if (done && buffer.indexOf("\r\n") < 0) throw new Error(`connection closed; unread: ${JSON.stringify(buffer)}`);
    }
  }

  const greeting = await readLine();
  let tagCounter = 0;
  return {
    greeting,
    async command(line: string) {
      const tag = `t${++tagCounter}`;
      socket.write(`${tag} ${line}\r\n`);
      const lines: string[] = [];
      for (;;) {
        const next = await readLine();
        if (next.startsWith(`${tag} `)) return { lines, status: next.slice(tag.length + 1) };
        lines.push(next);
      }
    },
    send(line: string) {
      socket.write(`${line}\r\n`);
    },
    readLine,
    close() {
      socket.destroy();
    },
  };
}
