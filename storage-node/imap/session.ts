/**
 * One IMAP connection: reads commands, dispatches them through the command
 * table, writes responses. RFC 3501 §3 states, §5.5 ordering, §7 responses.
 *
 * Invariants:
 * - Commands run strictly one after another; pipelined commands wait in the
 *   byte reader (bounded by back-pressure on the socket). While a complete
 *   pipelined command is waiting, responses are batched into one write (up to
 *   the output high-water mark); before anything that waits for the client
 *   (a continuation, IDLE, STARTTLS, COMPRESS) the output is flushed.
 * - Every tagged completion is preceded by the untagged updates the client is
 *   owed (EXISTS, flag FETCHes, and EXPUNGE/VANISHED unless the command uses
 *   sequence numbers — RFC 3501 §7.4.1).
 * - After STARTTLS nothing received before the handshake is ever parsed
 *   (RFC 3501 §6.2.1; the STARTTLS command-injection class, CVE-2011-0411).
 * - Too many malformed commands in a row end the connection with BYE.
 * - No password, key or message content is logged; the log names the mailbox
 *   by its random id only.
 * - The mailbox handle opened at login is closed exactly once, when the
 *   connection ends.
 */

import type { Duplex } from "node:stream";
import { constants as zlibConstants, createDeflateRaw, createInflateRaw } from "node:zlib";
import { TLSSocket, type SecureContext } from "node:tls";
import type { Logger } from "pino";
import type { Authenticator } from "../auth/types.ts";
import type { Mailbox, MailStore } from "../store/types.ts";
import { CommandError, type CommandEntry } from "./command.ts";
import { COMMAND_TABLE } from "./command-table.ts";
import { capabilityList } from "./capabilities.ts";
import type { HomeProxy } from "./home-proxy.ts";
import type { ImapLimits } from "./session-limits.ts";
import { SequenceTracker, type SyncOptions } from "./tracker.ts";
import { ByteReader, ConnectionClosedError } from "./wire/byte-reader.ts";
import { CommandCursor, LiteralRefusedError, ParseError, type CursorHost } from "./wire/command-cursor.ts";
import { ResponseWriter, type OutputSink } from "./wire/response-writer.ts";

/**
 * What a session reads from and writes to: a TCP or TLS socket, or the byte
 * stream of a session proxied from another node (peer/websocket-connection.ts).
 */
export type SessionSocket = Duplex & {
  readonly remoteAddress?: string;
  setTimeout(ms: number): unknown;
  /** A proxied session's stream: told before the first deflated byte, so the other node adds nothing after it. */
  announceCompression?(): void;
};

export type SessionState = "not-authenticated" | "authenticated" | "selected" | "logout";

/** What a session needs from the server that owns it. */
export interface SessionContext {
  store: MailStore;
  authenticator: Authenticator;
  logger: Logger;
  limits: ImapLimits;
  hostname: string;
  secureContext: SecureContext | null;
  loginDisabledOnPlaintext: boolean;
  /** Counts a login against the per-user cap; false when the cap is reached. */
  acquireUserSlot(mailboxId: string): boolean;
  releaseUserSlot(mailboxId: string): void;
  /** This node's id; null when the server is not part of a cluster (every mailbox is local). */
  nodeId: string | null;
  /** Reaches a mailbox's home node when it is another node (DESIGN §2.1); null: never proxy. */
  homeProxy: HomeProxy | null;
}

export interface SelectedFolder {
  name: string;
  readOnly: boolean;
  tracker: SequenceTracker;
}

export class Session {
  state: SessionState = "not-authenticated";
  mailbox: Mailbox | null = null;
  mailboxId: string | null = null;
  selected: SelectedFolder | null = null;
  /** Extensions turned on with ENABLE (RFC 5161) or implicitly (CONDSTORE by use). */
  readonly enabled = new Set<string>();
  /** RFC 5182 SEARCHRES: UIDs saved by the last SEARCH ... RETURN (SAVE). */
  savedSearch: number[] | null = null;
  secure: boolean;
  readonly out: ResponseWriter;
  readonly logger: Logger;

  private socket: SessionSocket;
  private readonly reader: ByteReader;
  /** False for a session proxied from another node: it starts authenticated, without a greeting. */
  private readonly greet: boolean;
  /** Set while the connection is handed over to a proxy: ends it on shutdown. */
  private handedOver: (() => void) | null = null;
  private badCommands = 0;
  private waitingForCommand = false;
  /** True while IDLE waits for DONE: shutdown may interrupt it (RFC 2177). */
  idling = false;
  private shuttingDown = false;
  private ended = false;
  /** Set by the mailbox watcher when the selected folder changed; sync skips the store otherwise. */
  private selectedDirty = true;
  /** The folder a running SELECT/EXAMINE reads: its changes count before it is selected. */
  private selecting: string | null = null;
  private unwatchMailbox: (() => void) | null = null;
  private readonly dataListener = (chunk: Buffer): void => this.reader.push(chunk);

  constructor(
    socket: SessionSocket,
    readonly context: SessionContext,
    options: { secure: boolean; id: string; greet?: boolean },
  ) {
    this.socket = socket;
    this.greet = options.greet ?? true;
    this.secure = options.secure;
    this.logger = context.logger.child({ session: options.id });
    this.reader = new ByteReader(context.limits.maxLineBytes * 2, (pause) => {
      if (pause) this.socket.pause();
      else this.socket.resume();
    });
    this.out = new ResponseWriter(this.sinkFor(socket), context.limits.outputHighWaterBytes);
    this.attach(socket);
  }

  get limits(): ImapLimits {
    return this.context.limits;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "unknown";
  }

  /** True once the client sent ENABLE UTF8=ACCEPT (RFC 6855) or IMAP4rev2 (RFC 9051 §5.1: names are UTF-8). */
  get utf8(): boolean {
    return this.enabled.has("UTF8=ACCEPT") || this.enabled.has("IMAP4rev2");
  }

  /** True once the client sent ENABLE IMAP4rev2 (RFC 9051 §6.3.1). */
  get rev2(): boolean {
    return this.enabled.has("IMAP4rev2");
  }

  get condstore(): boolean {
    return this.enabled.has("CONDSTORE") || this.enabled.has("QRESYNC");
  }

  get qresync(): boolean {
    return this.enabled.has("QRESYNC");
  }

  capabilities(): string[] {
    return capabilityList({
      state: this.state,
      secure: this.secure,
      tlsAvailable: this.context.secureContext !== null,
      loginDisabled: this.loginDisabled(),
      maxMessageBytes: this.limits.maxMessageBytes,
    });
  }

  loginDisabled(): boolean {
    return this.context.loginDisabledOnPlaintext && !this.secure;
  }

  requireMailbox(): Mailbox {
    if (!this.mailbox) throw new CommandError("BAD", null, "Not authenticated");
    return this.mailbox;
  }

  requireSelected(): SelectedFolder {
    if (!this.selected) throw new CommandError("BAD", null, "No mailbox selected");
    return this.selected;
  }

  /** Runs the connection to its end. Never rejects. */
  async run(): Promise<void> {
    try {
      if (this.greet) this.out.untagged(`OK [CAPABILITY ${this.capabilities().join(" ")}] Sealbox IMAP ready.`);
      await this.out.flush();
      this.armTimeout();
      while (!this.shuttingDown && this.state !== "logout") {
        // Output goes out before the server waits for input. While a complete pipelined line is
        // already waiting, its answer joins the same write (up to the high-water mark).
        if (this.reader.hasLine) await this.out.maybeFlush();
        else await this.out.flush();
        this.waitingForCommand = true;
        const line = await this.reader.readLine(this.limits.maxLineBytes);
        this.waitingForCommand = false;
        if (line === null) break;
        if (line.tooLong) {
          // The tag is lost with the line; RFC 3501 §7.1.3 allows an untagged BAD.
          this.out.untagged("BAD Command line too long.");
          // A literal announced at the end of the lost line cannot be told from commands: give up.
          const marker = /~?\{(\d+)\+?\}$/.exec(line.line.toString("latin1"));
          if (marker || !(await this.countBad())) {
            await this.bye("Too much invalid input.");
            break;
          }
          await this.out.flush();
          continue;
        }
        if (line.line.length === 0) continue;
        await this.handleCommand(line.line);
        if (this.shuttingDown && (this.state as SessionState) !== "logout") await this.bye("Server shutting down.");
      }
    } catch (error) {
      if (!(error instanceof ConnectionClosedError)) this.logger.error({ err: errorSummary(error) }, "imap session failed");
    } finally {
      await this.finish();
    }
  }

  /** Server shutdown: BYE now if between commands, else after the current one. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.handedOver) {
      this.handedOver();
      return;
    }
    if (this.waitingForCommand || this.idling) {
      this.out.untagged("BYE Server shutting down.");
      void this.out
        .flush()
        .catch(() => undefined)
        .finally(() => this.socket.end());
    }
  }

  /** Closes the connection at once (timeouts, limits). */
  destroy(): void {
    this.socket.destroy();
    this.reader.end();
  }

  private async handleCommand(line: Buffer): Promise<void> {
    const cursor = new CommandCursor(line, this.reader, this.cursorHost());
    let tag = "*";
    let entry: CommandEntry | undefined;
    try {
      tag = cursor.tag();
      cursor.sp();
      let name = cursor.keyword("a command name");
      if (name === "UID") {
        cursor.sp();
        name = `UID ${cursor.keyword("a command name")}`;
      }
      entry = COMMAND_TABLE.get(name);
      if (!entry) throw new CommandError("BAD", null, "Unknown command.");
      if (!entry.states.includes(this.state)) {
        throw new CommandError("BAD", null, `${name} is not allowed in this state.`);
      }
      const result = await entry.run(this, tag, cursor);
      await this.syncSelected(!entry.usesSequenceNumbers);
      this.out.tagged(tag, "OK", result?.code ?? null, result?.text ?? `${name} completed.`);
      this.badCommands = 0;
      if (result?.after) {
        await this.out.flush();
        await result.after();
      }
    } catch (error) {
      await this.failCommand(tag, cursor, error);
    }
  }

  private async failCommand(tag: string, cursor: CommandCursor, error: unknown): Promise<void> {
    if (error instanceof ConnectionClosedError) throw error;
    let status: "NO" | "BAD";
    let code: string | null = null;
    let text: string;
    let skippable = true;
    if (error instanceof LiteralRefusedError) {
      status = error.status;
      code = error.code;
      text = error.message;
      if (!error.literal.sync) {
        // LITERAL+: the bytes are already on their way; read and drop them (RFC 7888 §4).
        if (error.literal.size > this.limits.maxDiscardBytes) skippable = false;
        else {
          await this.reader.discard(error.literal.size);
          await cursor.continueLine().catch(() => undefined);
        }
      }
    } else if (error instanceof ParseError) {
      status = "BAD";
      text = error.message;
    } else if (error instanceof CommandError) {
      status = error.status;
      code = error.code;
      text = error.message;
    } else {
      this.logger.error({ err: errorSummary(error) }, "imap command failed");
      status = "NO";
      code = "SERVERBUG";
      text = "Internal error.";
    }
    if (skippable) skippable = await cursor.skipRest(this.limits.maxDiscardBytes);
    this.out.tagged(tag, status, code, text.endsWith(".") ? text : `${text}.`);
    if (!skippable) {
      await this.bye("Cannot recover from invalid input.");
      this.state = "logout";
      return;
    }
    if (status === "BAD" && !(await this.countBad())) {
      await this.bye("Too many invalid commands.");
      this.state = "logout";
    }
  }

  /** Counts a bad command; false once the limit is reached. */
  private async countBad(): Promise<boolean> {
    this.badCommands++;
    return this.badCommands < this.limits.maxBadCommands;
  }

  async bye(text: string): Promise<void> {
    this.out.untagged(`BYE ${text}`);
    await this.out.flush();
    this.state = "logout";
  }

  /** Untagged updates for the selected folder (RFC 3501 §7, §5.5). */
  async syncSelected(allowExpunge: boolean): Promise<void> {
    if (!this.selected || !this.mailbox) return;
    const { name, tracker, readOnly } = this.selected;
    if (!this.selectedDirty) {
      // Nothing new since the last sync; expunges held back then may go out now.
      if (allowExpunge && tracker.hasPendingExpunges) await tracker.syncUnchanged(this.mailbox, name, this.out, this.syncOptions(allowExpunge, readOnly));
      return;
    }
    // Cleared before the store call, so a change committed during it marks the folder again.
    this.selectedDirty = false;
    await tracker.sync(this.mailbox, name, this.out, this.syncOptions(allowExpunge, readOnly));
    // The session's next write brings what changed after this, saving the store call of the sync after it.
    if (this.selected?.tracker === tracker) this.mailbox.follow(name, tracker.modseq);
  }

  private syncOptions(allowExpunge: boolean, readOnly: boolean): SyncOptions {
    return { allowExpunge, condstore: this.condstore, qresync: this.qresync, readOnly };
  }

  /** The selected folder may have changed (a watch event, a rename). */
  markSelectedDirty(): void {
    this.selectedDirty = true;
  }

  /**
   * SELECT/EXAMINE of `folder` starts: a change committed from now on marks
   * it, so the first sync after the selection asks the store only when the
   * selection's own read may have missed something.
   */
  beginSelect(folder: string): void {
    this.selecting = folder;
    this.selectedDirty = false;
  }

  /** The selection that `beginSelect` started is in place (or failed). */
  endSelect(): void {
    this.selecting = null;
  }

  /** Called by LOGIN/AUTHENTICATE once the authenticator accepted the client. */
  setAuthenticated(mailbox: Mailbox, mailboxId: string): void {
    this.unwatchMailbox = mailbox.watch((event) => {
      if (event.folder === (this.selected?.name ?? this.selecting)) this.selectedDirty = true;
    });
    this.mailbox = mailbox;
    this.mailboxId = mailboxId;
    this.state = "authenticated";
    this.armTimeout();
  }

  /**
   * Gives the connection to a proxy (DESIGN §2.1), after the tagged OK of the
   * login went out: the session stops reading and its timeouts stop (the home
   * node's session applies them). Returns the socket and the bytes the client
   * pipelined after the login, which belong to the proxied session. `stop` is
   * called on server shutdown; the session ends when `run()`'s command returns.
   */
  handOver(stop: () => void): { socket: SessionSocket; pipelined: Buffer } {
    this.socket.off("data", this.dataListener);
    this.socket.setTimeout(0);
    const pipelined = this.reader.takeBuffered();
    // Taking the buffer may have resumed a socket the reader had paused; no byte may flow unread.
    this.socket.pause();
    this.handedOver = stop;
    this.state = "logout";
    return { socket: this.socket, pipelined };
  }

  /** Reads one raw line (AUTHENTICATE continuation, IDLE's DONE). */
  async readLine(): Promise<Buffer | null> {
    const line = await this.reader.readLine(this.limits.maxLineBytes);
    if (line === null) return null;
    if (line.tooLong) throw new CommandError("BAD", null, "Line too long");
    return line.line;
  }

  /** RFC 3501 §6.2.1 STARTTLS: called after the tagged OK was flushed. */
  async startTls(): Promise<void> {
    const context = this.context.secureContext;
    if (!context) throw new CommandError("BAD", null, "TLS is not available");
    const plain = this.socket;
    plain.off("data", this.dataListener);
    plain.setTimeout(0);
    // Anything the client pipelined after STARTTLS was sent in plaintext: drop it.
    const dropped = this.reader.discardBuffered();
    if (dropped > 0) this.logger.warn({ bytes: dropped }, "discarded plaintext pipelined after STARTTLS");
    const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.socket = secure;
    this.out.setSink(this.sinkFor(secure));
    this.secure = true;
    this.attach(secure);
    plain.resume();
  }

  /** True once COMPRESS=DEFLATE is active (RFC 4978 §3: at most once per connection). */
  compressed = false;

  /**
   * RFC 4978 COMPRESS=DEFLATE: called after the tagged OK went out uncompressed.
   * Input is inflated before the byte reader sees it; every flush of the writer
   * is deflated and sync-flushed so the client can read each response at once,
   * and completes only when its deflated bytes were written to the socket.
   */
  async startCompression(): Promise<void> {
    const socket = this.socket;
    socket.announceCompression?.();
    socket.off("data", this.dataListener);
    const inflate = createInflateRaw();
    const deflate = createDeflateRaw({ level: 6 });
    inflate.on("data", (chunk: Buffer) => this.reader.push(chunk));
    inflate.on("error", () => this.destroy());
    deflate.on("data", (chunk: Buffer) => {
      if (!socket.destroyed && !socket.writableEnded) socket.write(chunk);
    });
    deflate.on("error", () => this.destroy());
    socket.on("data", (chunk: Buffer) => inflate.write(chunk));
    // Bytes already received after COMPRESS were compressed by the client.
    const pending = this.reader.discardBuffered();
    if (pending > 0) this.logger.debug({ bytes: pending }, "dropping input pipelined before compression took effect");
    const socketSink = this.sinkFor(socket);
    // A flush is done once its deflated bytes reached the socket: a BYE before the close is not lost.
    let deflated: Promise<void> = Promise.resolve();
    this.out.setSink({
      write: (chunk) => {
        deflate.write(chunk);
        deflated = new Promise((resolve) => deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => resolve()));
        return false;
      },
      drain: async () => {
        await deflated;
        await socketSink.drain();
      },
    });
    this.compressed = true;
  }

  /** Subscribes to changes of the mailbox while IDLE runs (RFC 2177). */
  setIdleTimeout(idle: boolean): void {
    this.socket.setTimeout(idle ? this.limits.idleMaxMs : this.currentTimeout());
  }

  private attach(socket: SessionSocket): void {
    socket.on("data", this.dataListener);
    socket.on("end", () => this.reader.end());
    socket.on("close", () => this.reader.end());
    socket.on("error", (error) => {
      this.logger.debug({ err: errorSummary(error) }, "imap socket error");
      this.reader.end();
    });
    socket.on("timeout", () => {
      this.out.untagged("BYE Autologout; idle for too long.");
      void this.out
        .flush()
        .catch(() => undefined)
        .finally(() => this.destroy());
    });
  }

  private currentTimeout(): number {
    return this.state === "not-authenticated" ? this.limits.preauthTimeoutMs : this.limits.authTimeoutMs;
  }

  private armTimeout(): void {
    this.socket.setTimeout(this.currentTimeout());
  }

  private sinkFor(socket: SessionSocket): OutputSink {
    return {
      write: (chunk) => (socket.destroyed || socket.writableEnded ? true : socket.write(chunk)),
      drain: () =>
        new Promise<void>((resolve) => {
          if (socket.destroyed || !socket.writableNeedDrain) return resolve();
          const done = (): void => {
            socket.off("drain", done);
            socket.off("close", done);
            resolve();
          };
          socket.on("drain", done);
          socket.on("close", done);
        }),
    };
  }

  private cursorHost(): CursorHost {
    return {
      maxLineBytes: this.limits.maxLineBytes,
      maxCommandBytes: this.limits.maxCommandBytes,
      acceptsNonSync: () => true,
      sendContinuation: async () => {
        this.out.continuation("Ready for literal data");
        await this.out.flush();
      },
    };
  }

  private async finish(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await this.out.flush();
    } catch {
      // the peer is gone
    }
    this.out.close();
    this.socket.end();
    const mailbox = this.mailbox;
    this.unwatchMailbox?.();
    this.unwatchMailbox = null;
    this.mailbox = null;
    this.selected = null;
    if (mailbox) {
      if (this.mailboxId) this.context.releaseUserSlot(this.mailboxId);
      await mailbox.close().catch((error: unknown) => this.logger.warn({ err: errorSummary(error) }, "mailbox close failed"));
    }
  }
}

/** Error details safe to log: type and message of our own errors, never payloads. */
export function errorSummary(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: typeof error, message: "non-error thrown" };
}
