/**
 * Local delivery targets for forwarding and webhook tests: a sink SMTP server
 * (smtp-server) and an HTTP webhook receiver, both on 127.0.0.1.
 *
 * Sink behaviour by recipient local part: "reject@" → 550 5.1.1, "later@" →
 * 451 for the first two attempts, "stuck@" → always 451, anything else → 250.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { SMTPServer } from "smtp-server";

export interface SinkMessage {
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  /** Whether the session ran over TLS (STARTTLS) when the message came. */
  secure: boolean;
}

export interface SinkOptions {
  /** Offer STARTTLS with this certificate, and per-SNI-name ones. */
  tls?: { key: string; cert: string; sniOptions?: Record<string, { key: string; cert: string }> };
}

export interface Sink {
  port: number;
  received: SinkMessage[];
  /** RCPT attempts per address. */
  attempts: Map<string, number>;
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const sink: Sink = { port: 0, received: [], attempts: new Map(), connections: 0, close: async () => undefined };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.tls ? ["AUTH"] : ["AUTH", "STARTTLS"],
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, sniOptions: options.tls.sniOptions } : {}),
    logger: false,
    onConnect(_session, callback) {
      sink.connections++;
      callback();
    },
    onRcptTo(address, _session, callback) {
      const count = (sink.attempts.get(address.address) ?? 0) + 1;
      sink.attempts.set(address.address, count);
      if (address.address.startsWith("stuck@")) {
        return callback(Object.assign(new Error("4.2.1 try again later"), { responseCode: 451 }));
      }
      if (address.address.startsWith("reject@")) {
        return callback(Object.assign(new Error("5.1.1 no such user here"), { responseCode: 550 }));
      }
      if (address.address.startsWith("later@") && count <= 2) {
        return callback(Object.assign(new Error("4.2.1 try again later"), { responseCode: 451 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        sink.received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
        });
        callback();
      });
    },
  });
  // A forwarding node killed mid-session resets its connection: not a test failure.
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.server.address();
  sink.port = typeof address === "object" && address ? address.port : 0;
  sink.close = () => new Promise((resolve) => server.close(() => resolve()));
  return sink;
}

export interface HookRequest {
  headers: IncomingMessage["headers"];
  body: Buffer;
  status: number;
}

export interface Receiver {
  url: string;
  requests: HookRequest[];
  /** Status to answer with next (default 200); 0 = never answer. */
  status: number;
  /** Requests whose connection the client dropped before any answer came. */
  abandoned: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: "", requests: [], status: 200, abandoned: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("error", () => undefined);
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = receiver.status;
      receiver.requests.push({ headers: req.headers, body: Buffer.concat(chunks), status });
      if (status === 0) {
        res.on("close", () => receiver.abandoned++);
        return;
      }
      res.writeHead(status).end();
    });
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  receiver.url = `http://127.0.0.1:${port}/hook`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

