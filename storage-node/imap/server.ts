/**
 * The IMAP server: accepts connections (plain with STARTTLS, or implicit TLS),
 * enforces the per-IP and per-user connection caps, and runs one Session per
 * connection.
 *
 * Invariants:
 * - Every limit comes from storage-node/limits.ts (via session-limits.ts).
 * - `close()` stops accepting, says BYE to idle sessions at once and to busy
 *   ones after their current command, and resolves when all have ended.
 * - Listens where told; the node binds 127.0.0.1 in development and tests.
 */
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, TLSSocket, type SecureContext } from "node:tls";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Authenticator } from "../auth/types.ts";
import type { MailStore } from "../store/types.ts";
import { Session, errorSummary } from "./session.ts";
import { resolveImapLimits, type ImapLimits } from "./session-limits.ts";

export interface ImapServerOptions {
  store: MailStore;
  authenticator: Authenticator;
  logger: Logger;
  /** Enables STARTTLS and implicit TLS. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Advertise LOGINDISABLED (and refuse LOGIN/AUTHENTICATE) until STARTTLS. */
  loginDisabledOnPlaintext?: boolean;
  hostname?: string;
  /** Overrides of the defaults in limits.ts (tests use small values). */
  limits?: Partial<ImapLimits>;
}

export interface ImapServer {
  listen(options: { port: number; host: string; implicitTls?: boolean }): Promise<{ port: number }>;
  /** Graceful: stop accepting, BYE sessions, finish in-flight commands. */
  close(): Promise<void>;
}

export function createImapServer(options: ImapServerOptions): ImapServer {
  const limits = resolveImapLimits(options.limits);
  const secureContext: SecureContext | null = options.tls ? createSecureContext({ key: options.tls.key, cert: options.tls.cert }) : null;
  const servers: Server[] = [];
  const sessions = new Set<Session>();
  const running = new Set<Promise<void>>();
  const perIp = new Map<string, number>();
  const perUser = new Map<string, number>();
  let closing = false;

  const context = {
    store: options.store,
    authenticator: options.authenticator,
    logger: options.logger,
    limits,
    hostname: options.hostname ?? "localhost",
    secureContext,
    loginDisabledOnPlaintext: options.loginDisabledOnPlaintext ?? false,
    acquireUserSlot(mailboxId: string): boolean {
      const count = perUser.get(mailboxId) ?? 0;
      if (count >= limits.maxConnectionsPerUser) return false;
      perUser.set(mailboxId, count + 1);
      return true;
    },
    releaseUserSlot(mailboxId: string): void {
      const count = (perUser.get(mailboxId) ?? 1) - 1;
      if (count <= 0) perUser.delete(mailboxId);
      else perUser.set(mailboxId, count);
    },
  };

  function accept(raw: Socket, implicitTls: boolean): void {
    raw.on("error", () => undefined);
    if (closing) {
      raw.destroy();
      return;
    }
    const ip = raw.remoteAddress ?? "unknown";
    const count = perIp.get(ip) ?? 0;
    if (count >= limits.maxConnectionsPerIp) {
      raw.end("* BYE Too many connections from your address.\r\n");
      return;
    }
    perIp.set(ip, count + 1);
    let socket: Socket = raw;
    if (implicitTls) {
      if (!secureContext) {
        raw.destroy();
        return;
      }
      socket = new TLSSocket(raw, { isServer: true, secureContext });
      socket.on("error", () => undefined);
    }
    const session = new Session(socket, context, { secure: implicitTls, id: randomBytes(6).toString("hex") });
    sessions.add(session);
    const done = session.run().finally(() => {
      sessions.delete(session);
      running.delete(done);
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left <= 0) perIp.delete(ip);
      else perIp.set(ip, left);
    });
    running.add(done);
  }

  return {
    async listen({ port, host, implicitTls = false }) {
      if (implicitTls && !secureContext) throw new Error("implicit TLS needs a certificate");
      const server = createServer((socket) => accept(socket, implicitTls));
      server.on("error", (error) => options.logger.error({ err: errorSummary(error) }, "imap listener error"));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      servers.push(server);
      const address = server.address();
      return { port: typeof address === "object" && address ? address.port : port };
    },
    async close() {
      closing = true;
      const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
      for (const session of sessions) session.shutdown();
      // Busy sessions finish their command; one that never does is cut off after the grace period.
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const session of sessions) session.destroy();
          resolve();
        }, limits.shutdownGraceMs);
      });
      await Promise.race([Promise.all([...running]), grace]);
      clearTimeout(timer);
      await Promise.all([...running]);
      await Promise.all(closed);
    },
  };
}
