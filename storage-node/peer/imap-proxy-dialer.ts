/**
 * The client-facing node's dialler of proxied IMAP sessions (DESIGN §2.1):
 * one WebSocket per session to the home node's PEER_SESSION_PATH, with the
 * same signed, node-specific handshake as the RPC links (peer-pool.ts).
 *
 * Invariants:
 * - No byte is sent before the home node proved its identity in the 101
 *   answer (verifyPeerAccept against the key the edge holds for it); the
 *   password goes out only after that, in the single login frame.
 * - `open()` never throws: an unknown, unreachable, unverified, silent
 *   (PEER_LIMITS.proxyLoginTimeoutMs) or malformed home node is
 *   `UNAVAILABLE`; the home node's refusal is passed on with its code.
 * - At most PEER_LIMITS.maxProxiedSessionsPerPeer sessions per home node
 *   from this node; one more is `UNAVAILABLE` without a dial.
 * - An open session's link is kept alive with pings (PEER_LIMITS.proxyKeepaliveMs):
 *   a home node gone silent ends the session's stream with an error.
 */
import { WebSocket, type RawData } from "ws";
import { handshakeHeaders, signHandshake } from "../../shared/tunnel/handshake.ts";
import { PEER_PROOF_HEADER, peerContext, verifyPeerAccept } from "../../shared/tunnel/peer-handshake.ts";
import type { HomeLoginOptions, HomeProxy, HomeSessionData } from "../imap/home-proxy.ts";
import { PEER_LIMITS } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { PeerDirectory } from "./peer-directory.ts";
import { PEER_SESSION_PATH, parseProxyAnswer, type ProxyLoginData } from "./imap-proxy-protocol.ts";
import { WebSocketConnection } from "./websocket-connection.ts";

export interface ImapProxyDialerOptions {
  nodeId: string;
  nodeSecretKey: string;
  directory: PeerDirectory;
  logger: Logger;
  /** Extra trusted CA (PEM) for wss:// peers. */
  ca?: string;
  limits?: { [K in "maxProxiedSessionsPerPeer" | "proxyLoginTimeoutMs" | "handshakeTimeoutMs" | "maxFrameBytes" | "proxyKeepaliveMs"]?: number };
}

const UNAVAILABLE: HomeSessionData = { ok: false, code: "UNAVAILABLE", text: "The mailbox is temporarily unavailable, try again later." };

export class ImapProxyDialer implements HomeProxy {
  private readonly options: ImapProxyDialerOptions;
  private readonly perPeer = new Map<string, number>();
  private readonly limits: { [K in keyof NonNullable<ImapProxyDialerOptions["limits"]>]-?: number };

  constructor(options: ImapProxyDialerOptions) {
    this.options = options;
    this.limits = {
      maxProxiedSessionsPerPeer: options.limits?.maxProxiedSessionsPerPeer ?? PEER_LIMITS.maxProxiedSessionsPerPeer,
      proxyLoginTimeoutMs: options.limits?.proxyLoginTimeoutMs ?? PEER_LIMITS.proxyLoginTimeoutMs,
      handshakeTimeoutMs: options.limits?.handshakeTimeoutMs ?? PEER_LIMITS.handshakeTimeoutMs,
      maxFrameBytes: options.limits?.maxFrameBytes ?? PEER_LIMITS.maxFrameBytes,
      proxyKeepaliveMs: options.limits?.proxyKeepaliveMs ?? PEER_LIMITS.proxyKeepaliveMs,
    };
  }

  /** Proxied sessions open (or opening) to `nodeId`. */
  sessionsTo(nodeId: string): number {
    return this.perPeer.get(nodeId) ?? 0;
  }

  async open(homeNode: string, login: HomeLoginOptions): Promise<HomeSessionData> {
    const open = this.perPeer.get(homeNode) ?? 0;
    if (open >= this.limits.maxProxiedSessionsPerPeer) {
      this.options.logger.warn({ peer: homeNode }, "proxied session refused: too many sessions to this peer");
      return UNAVAILABLE;
    }
    this.perPeer.set(homeNode, open + 1);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      const left = (this.perPeer.get(homeNode) ?? 1) - 1;
      if (left <= 0) this.perPeer.delete(homeNode);
      else this.perPeer.set(homeNode, left);
    };
    let peer;
    try {
      peer = await this.options.directory.lookup(homeNode);
    } catch {
      peer = null;
    }
    if (!peer?.peerUrl) {
      release();
      this.options.logger.warn({ peer: homeNode }, "proxied session refused: the home node has no known address");
      return UNAVAILABLE;
    }
    const result = await this.dial(homeNode, peer.publicKey, peer.peerUrl, login);
    if (!result.ok) release();
    else result.connection.once("close", release);
    return result;
  }

  private dial(homeNode: string, publicKey: string, peerUrl: string, login: HomeLoginOptions): Promise<HomeSessionData> {
    const handshake = signHandshake(this.options.nodeId, this.options.nodeSecretKey, Date.now(), peerContext(homeNode));
    const url = `${peerUrl.replace(/\/+$/, "")}${PEER_SESSION_PATH}`;
    return new Promise<HomeSessionData>((resolve) => {
      let settled = false;
      let verified = false;
      const socket = new WebSocket(url, {
        headers: handshakeHeaders(handshake),
        handshakeTimeout: this.limits.handshakeTimeoutMs,
        maxPayload: this.limits.maxFrameBytes,
        perMessageDeflate: false,
        ca: this.options.ca,
      });
      const timer = setTimeout(() => fail("the home node did not answer the login in time"), this.limits.proxyLoginTimeoutMs);
      timer.unref();
      const settle = (value: HomeSessionData) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      };
      const fail = (reason: string) => {
        if (settled) return;
        this.options.logger.warn({ peer: homeNode, reason }, "proxied session could not be opened");
        socket.terminate();
        settle(UNAVAILABLE);
      };
      socket.on("upgrade", (response) => {
        const proof = response.headers[PEER_PROOF_HEADER];
        verified = typeof proof === "string" && verifyPeerAccept(proof, homeNode, publicKey, this.options.nodeId, handshake.nonce);
        if (!verified) {
          this.options.directory.forget(homeNode);
          fail("the node did not prove its identity");
        }
      });
      socket.on("open", () => {
        if (!verified) return fail("the node did not prove its identity");
        const frame: ProxyLoginData = { type: "login", address: login.address, password: login.password, ip: login.ip, secure: login.secure };
        socket.send(JSON.stringify(frame));
      });
      const onAnswer = (data: RawData, isBinary: boolean) => {
        socket.off("message", onAnswer);
        const text = Buffer.isBuffer(data) ? data.toString("utf8") : Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data).toString("utf8");
        const answer = isBinary ? null : parseProxyAnswer(text);
        if (!answer) return fail("malformed answer");
        if (answer.type === "no") {
          socket.close(1000, "login refused");
          return settle({ ok: false, code: answer.code, text: answer.text });
        }
        // Attached in the same tick as the answer: the session's first bytes cannot be missed.
        const connection = new WebSocketConnection(socket, { keepaliveMs: this.limits.proxyKeepaliveMs });
        settle({ ok: true, connection, capabilities: answer.capabilities });
      };
      socket.on("message", onAnswer);
      socket.on("unexpected-response", (_request, response) => fail(`refused with status ${response.statusCode ?? 0}`));
      socket.on("error", () => fail("the node cannot be reached"));
      socket.on("close", () => fail("the link closed before the answer"));
    });
  }
}
