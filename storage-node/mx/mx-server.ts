/**
 * The MX: inbound SMTP (RFC 5321) on port 25 (2525 locally), on smtp-server.
 *
 * Invariants:
 * - `250` after DATA means `Deliverer.deliver()` resolved: the message is
 *   durable in the spool and/or the mailbox (DESIGN §4) and survives kill -9.
 * - One DATA is one message: DATA ends only on CRLF.CRLF, and any message
 *   with a bare CR or LF is refused (SMTP smuggling, see message-reader.ts).
 *   Commands pipelined behind STARTTLS are discarded with the plaintext
 *   parser (RFC 3207 §4.2, smtp-server replaces its parser on upgrade).
 * - SIZE (RFC 1870) is advertised and enforced while streaming: nothing past
 *   the limit is buffered; the reply is 552.
 * - Every refusal has a clear code, mapped here and only here:
 *     unknown alias 550 5.1.1 · alias not taking mail 550 5.2.1 ·
 *     over quota 452 4.2.2 at RCPT, 552 5.2.2 at DATA · edge unreachable
 *     451 4.4.3 · too many recipients 452 4.5.3 · rate 450 4.7.1 ·
 *     too many connections 421 4.7.0 · bad address 553 5.1.3 / 501 5.1.7 ·
 *     bare line ending 554 5.6.0 · local failure 451 4.3.0.
 *   Reply texts never say whether some other address exists.
 * - Caps per client IP: concurrent connections and transactions per window.
 * - Nothing of a message and no full address is logged.
 */
import type { Readable } from "node:stream";
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { AliasRouteData } from "../../shared/tunnel/records.ts";
import { MX_LIMITS } from "../limits.ts";
import { maskAddress, type Logger } from "../log.ts";
import { authenticateMessage, authservId } from "./authentication.ts";
import { DeliveryError, newDeliveryId, storesInMailbox, type Deliverer } from "./delivery.ts";
import type { DnsResolverData } from "./dns-resolver.ts";
import { readMessage } from "./message-reader.ts";
import { RouteUnavailableError, type RouteCache } from "./route-cache.ts";
import { obscureForgedResults, receivedHeader } from "./trace-headers.ts";

export interface MxLimitOverrides {
  /** Transactions per client IP per window. */
  rateLimit?: { messages: number; windowMs: number };
  /** Message bytes buffered across all connections. */
  maxBufferedBytes?: number;
}

export interface MxServerOptions {
  hostname: string;
  tls: { key: string; cert: string };
  logger: Logger;
  routes: RouteCache;
  deliverer: Deliverer;
  resolver: DnsResolverData;
  maxMessageBytes?: number;
  /** Limits other than MX_LIMITS, for tests of their edges and for benchmarks. */
  overrides?: MxLimitOverrides;
  /** A route for an address the directory does not know but this node does (SRS bounces). */
  bounceRoute?: (address: string) => AliasRouteData | null;
  /** Called after every 250, with the delivery id (tests and benchmarks wait on it). */
  onDelivered?: (deliveryId: string) => void;
}

/** An SMTP reply as smtp-server expects it from a handler. */
class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(code: number, enhanced: string, text: string) {
    super(`${enhanced} ${text}`);
    this.responseCode = code;
  }
}

const REPLIES = {
  unknownAlias: () => new SmtpReply(550, "5.1.1", "No such recipient here"),
  notTakingMail: () => new SmtpReply(550, "5.2.1", "Recipient is not accepting mail"),
  quotaRcpt: () => new SmtpReply(452, "4.2.2", "Recipient mailbox is full, try again later"),
  quotaData: () => new SmtpReply(552, "5.2.2", "Recipient mailbox is full"),
  edgeDown: () => new SmtpReply(451, "4.4.3", "Directory temporarily unavailable, try again later"),
  localError: () => new SmtpReply(451, "4.3.0", "Temporary local problem, try again later"),
  badRecipient: () => new SmtpReply(553, "5.1.3", "Recipient address syntax not accepted"),
  badSender: () => new SmtpReply(501, "5.1.7", "Sender address syntax not accepted"),
  tooManyConnections: () => new SmtpReply(421, "4.7.0", "Too many connections from your address, try again later"),
  busy: () => new SmtpReply(452, "4.3.1", "Insufficient system resources, try again later"),
  tooManyRecipients: () => new SmtpReply(452, "4.5.3", "Too many recipients"),
  rate: () => new SmtpReply(450, "4.7.1", "Too many messages from your address, try again later"),
  bareLineEnding: () => new SmtpReply(554, "5.6.0", "Message refused: bare CR or LF (RFC 5321 section 2.3.8)"),
  tooBig: (limit: number) => new SmtpReply(552, "5.3.4", `Message exceeds the size limit of ${limit} bytes`),
};

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
const DOMAIN = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?)*)$/u;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A path smtp-server parsed, checked against what the MX accepts. */
export function acceptableAddress(address: string, allowEmpty: boolean): boolean {
  if (address === "") return allowEmpty;
  if (address.length > MX_LIMITS.maxAddressLength || CONTROL.test(address)) return false;
  const at = address.lastIndexOf("@");
  if (at < 1 || at === address.length - 1) return false;
  const local = address.slice(0, at);
  if (local.length > 64 && !allowEmpty) return false;
  return DOMAIN.test(address.slice(at + 1));
}

interface ConnectionWithSend {
  id: string;
  send(code: number, data?: string | string[], context?: string | false): void;
}

interface SessionState {
  ip: string;
  counted: boolean;
  routes: AliasRouteData[];
  /** RCPT commands in this transaction, refused ones included (directory harvesting). */
  rcptAttempts: number;
}

export class MxServer {
  private readonly options: MxServerOptions;
  private readonly server: SMTPServer;
  private readonly sessions = new Map<string, SessionState>();
  private readonly perIp = new Map<string, number>();
  /** ip → [window start, transactions in window]; Map order = age (oldest evicted). */
  private readonly rate = new Map<string, [number, number]>();
  private readonly maxBytes: number;
  private readonly budget: number;
  /** Message bytes currently held by DATA transfers. */
  private buffered = 0;

  constructor(options: MxServerOptions) {
    this.options = options;
    this.maxBytes = options.maxMessageBytes ?? MX_LIMITS.maxMessageBytes;
    this.budget = options.overrides?.maxBufferedBytes ?? MX_LIMITS.maxBufferedBytes;
    this.server = new SMTPServer({
      name: options.hostname,
      banner: "Sealbox ESMTP",
      key: options.tls.key,
      cert: options.tls.cert,
      size: this.maxBytes,
      authOptional: true,
      disabledCommands: ["AUTH"],
      hideSTARTTLS: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      hideENHANCEDSTATUSCODES: false,
      maxClients: MX_LIMITS.maxConnections,
      maxRecipients: MX_LIMITS.maxRecipients,
      socketTimeout: MX_LIMITS.socketTimeoutMs,
      closeTimeout: 10_000,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, callback) => callback(this.onConnect(session)),
      onClose: (session) => this.onClose(session),
      onMailFrom: (address, session, callback) => callback(this.onMailFrom(address, session)),
      onRcptTo: (address, session, callback) => {
        this.onRcptTo(address, session).then(
          () => callback(),
          (error: unknown) => callback(error instanceof SmtpReply ? error : REPLIES.localError()),
        );
      },
      onData: (stream, session, callback) => {
        this.onData(stream, session).then(
          (message) => callback(null, message),
          (error: unknown) => callback(error instanceof SmtpReply ? error : REPLIES.localError()),
        );
      },
    });
    this.server.on("error", (error) => this.options.logger.debug({ err: error.message }, "mx connection error"));
  }

  listen(options: { port: number; host: string }): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(options.port, options.host, () => {
        this.server.off("error", reject);
        const address = this.server.server.address();
        resolve({ port: typeof address === "object" && address !== null ? address.port : options.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private connection(sessionId: string): ConnectionWithSend | null {
    const connections = (this.server as unknown as { connections: Set<ConnectionWithSend> }).connections;
    for (const connection of connections) if (connection.id === sessionId) return connection;
    return null;
  }

  private onConnect(session: SMTPServerSession): SmtpReply | undefined {
    const ip = session.remoteAddress;
    const count = this.perIp.get(ip) ?? 0;
    const state: SessionState = { ip, counted: false, routes: [], rcptAttempts: 0 };
    this.sessions.set(session.id, state);
    if (count >= MX_LIMITS.maxConnectionsPerIp) return REPLIES.tooManyConnections();
    this.perIp.set(ip, count + 1);
    state.counted = true;
    // Our replies carry their own RFC 3463 code (e.g. 451 4.4.3); smtp-server would
    // prepend a generic one per reply code, so such replies are sent as they are.
    const connection = this.connection(session.id);
    if (connection) {
      const send = connection.send.bind(connection);
      connection.send = (code, data, context) => send(code, data, typeof data === "string" && ENHANCED_PREFIX.test(data) ? false : context);
    }
    return undefined;
  }

  private onClose(session: SMTPServerSession): void {
    const state = this.sessions.get(session.id);
    this.sessions.delete(session.id);
    if (!state?.counted) return;
    const count = (this.perIp.get(state.ip) ?? 1) - 1;
    if (count <= 0) this.perIp.delete(state.ip);
    else this.perIp.set(state.ip, count);
  }

  private onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): SmtpReply | undefined {
    const state = this.sessions.get(session.id);
    if (state) {
      state.routes = [];
      state.rcptAttempts = 0;
    }
    if (!acceptableAddress(address.address, true)) return REPLIES.badSender();
    const ip = session.remoteAddress;
    const now = Date.now();
    let window = this.rate.get(ip);
    const limit = this.options.overrides?.rateLimit ?? { messages: MX_LIMITS.maxMessagesPerIpPerWindow, windowMs: MX_LIMITS.rateWindowMs };
    if (!window || now - window[0] >= limit.windowMs) {
      window = [now, 0];
      this.rate.delete(ip);
      this.rate.set(ip, window);
      while (this.rate.size > MX_LIMITS.maxTrackedIps) {
        const oldest = this.rate.keys().next().value;
        if (oldest === undefined) break;
        this.rate.delete(oldest);
      }
    }
    if (window[1] >= limit.messages) return REPLIES.rate();
    window[1]++;
    return undefined;
  }

  private async onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const state = this.sessions.get(session.id);
    if (state && ++state.rcptAttempts > MX_LIMITS.maxRecipients) throw REPLIES.tooManyRecipients();
    if (!acceptableAddress(address.address, false)) throw REPLIES.badRecipient();
    let route: AliasRouteData | null = /^SRS[01][=+-]/i.test(address.address) ? (this.options.bounceRoute?.(address.address) ?? null) : null;
    try {
      route ??= await this.options.routes.resolve(address.address);
    } catch (error) {
      if (!(error instanceof RouteUnavailableError)) this.options.logger.warn({ err: error instanceof Error ? error.name : "error" }, "route look-up failed");
      throw REPLIES.edgeDown();
    }
    if (!route) throw REPLIES.unknownAlias();
    if (!storesInMailbox(route) && route.forwardTo.length === 0 && route.webhooks.length === 0) throw REPLIES.notTakingMail();
    const declared = Number(session.envelope.mailFrom && (session.envelope.mailFrom as SMTPServerAddress).args && ((session.envelope.mailFrom as SMTPServerAddress).args as Record<string, string>).SIZE) || 0;
    const room = await this.options.deliverer.roomLeft(route);
    if (room !== null && (room <= 0 || declared > room)) throw REPLIES.quotaRcpt();
    if (state && !state.routes.some((r) => r.aliasId === route.aliasId)) state.routes.push(route);
  }

  private async onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    let held = 0;
    const reserve = (bytes: number) => {
      if (this.buffered + bytes > this.budget) return false;
      this.buffered += bytes;
      held += bytes;
      return true;
    };
    try {
      return await this.receive(stream, session, reserve);
    } finally {
      this.buffered -= held;
    }
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession, reserve: (bytes: number) => boolean): Promise<string> {
    const read = await readMessage(stream as unknown as Readable, this.maxBytes, reserve);
    if (read.tooBig || stream.sizeExceeded) throw REPLIES.tooBig(this.maxBytes);
    if (read.overBudget) throw REPLIES.busy();
    if (read.bareLineEnding || !read.raw) throw REPLIES.bareLineEnding();
    const state = this.sessions.get(session.id);
    if (!state || state.routes.length === 0) throw REPLIES.localError();
    const receivedAt = new Date();
    const deliveryId = newDeliveryId(receivedAt.getTime());
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
    const helo = session.hostNameAppearsAs ?? "";
    const auth = await authenticateMessage(
      { raw: read.raw, ip: session.remoteAddress, helo, mailFrom, hostname: this.options.hostname },
      this.options.resolver,
    );
    const envelope = session.envelope as unknown as { smtpUtf8?: boolean };
    const trace =
      auth.headers +
      receivedHeader({
        helo,
        ip: session.remoteAddress,
        hostname: this.options.hostname,
        id: deliveryId,
        secure: session.secure,
        utf8: envelope.smtpUtf8 === true,
        date: receivedAt,
      });
    const traceBytes = Buffer.from(trace, "utf8");
    const raw = Buffer.concat([traceBytes, obscureForgedResults(read.raw, authservId(this.options.hostname))]);
    try {
      await this.options.deliverer.deliver({
        deliveryId,
        raw,
        envelope: {
          mailFrom,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          remoteAddress: session.remoteAddress,
          helo,
          secure: session.secure,
        },
        authResults: JSON.stringify({ spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc, arc: auth.arc, header: auth.headers }),
        receivedAt,
        routes: state.routes,
      });
    } catch (error) {
      if (error instanceof DeliveryError && error.kind === "over-quota") throw REPLIES.quotaData();
      this.options.logger.warn({ err: error instanceof Error ? error.message : "error" }, "delivery failed");
      throw REPLIES.localError();
    }
    this.options.logger.info(
      { deliveryId, size: read.size, recipients: state.routes.map((r) => maskAddress(r.address)) },
      "message accepted",
    );
    this.options.onDelivered?.(deliveryId);
    return `Ok: queued as ${deliveryId}`;
  }
}
