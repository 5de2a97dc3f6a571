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
import { CommandError } from "./command.ts";
import { completeLogin } from "./commands/login-flow.ts";
import type { HomeProxy } from "./home-proxy.ts";
import { Session, errorSummary, type SessionContext, type SessionSocket } from "./session.ts";
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
  /** This node's id: logins for mailboxes homed elsewhere go through `homeProxy` (DESIGN §2.1). */
  nodeId?: string;
  homeProxy?: HomeProxy;
}

/** A login another node passes on for a mailbox homed here (peer/imap-proxy-acceptor.ts). */
export interface ProxiedLoginOptions {
  address: string;
  password: string;
  ip: string;
  secure: boolean;
}

export type ProxiedSessionData =
  | {
      ok: true;
      capabilities: string[];
      start(): void;
      /** The other node is shutting down: BYE now if between commands, else after the current one. */
      shutdown(): void;
    }
  | { ok: false; code: string; text: string };

export interface ImapServer {
  listen(options: { port: number; host: string; implicitTls?: boolean }): Promise<{ port: number }>;
  /** Graceful: stop accepting, BYE sessions, finish in-flight commands. */
  close(): Promise<void>;
  /**
   * Logs a client of another node in on this, its mailbox's home node, and
   * prepares an IMAP session on `connection` that starts authenticated and
   * without a greeting; `start()` runs it (after the answer went to the other
   * node). A refusal carries the response code a direct login would get.
   */
  adoptProxied(connection: SessionSocket, login: ProxiedLoginOptions): Promise<ProxiedSessionData>;
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

  const context: SessionContext = {
    store: options.store,
    authenticator: options.authenticator,
    logger: options.logger,
    limits,
    hostname: options.hostname ?? "localhost",
    secureContext,
    loginDisabledOnPlaintext: options.loginDisabledOnPlaintext ?? false,
    nodeId: options.nodeId ?? null,
    homeProxy: options.homeProxy ?? null,
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

  // A proxied session is never proxied again: if the edge names yet another home, it fails.
  const proxiedContext: SessionContext = { ...context, homeProxy: null };

  function track(session: Session, onEnd: () => void): void {
    sessions.add(session);
    const done = session.run().finally(() => {
      sessions.delete(session);
      running.delete(done);
      onEnd();
    });
    running.add(done);
  }

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
    track(session, () => {
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left <= 0) perIp.delete(ip);
      else perIp.set(ip, left);
    });
  }

  return {
    async adoptProxied(connection, login) {
      if (closing) return { ok: false, code: "UNAVAILABLE", text: "Server shutting down." };
      const session = new Session(connection, proxiedContext, { secure: login.secure, id: randomBytes(6).toString("hex"), greet: false });
      try {
        await completeLogin(session, login.address, login.password);
      } catch (error) {
        connection.destroy();
        if (error instanceof CommandError && error.code !== null) return { ok: false, code: error.code, text: error.message };
        options.logger.error({ err: errorSummary(error) }, "proxied imap login failed");
        return { ok: false, code: "UNAVAILABLE", text: "Internal error." };
      }
      if (closing) {
        session.destroy();
        void session.run();
        return { ok: false, code: "UNAVAILABLE", text: "Server shutting down." };
      }
      return {
        ok: true,
        capabilities: session.capabilities(),
        start: () => track(session, () => session.logger.info("proxied imap session ended")),
        shutdown: () => session.shutdown(),
      };
    },
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
