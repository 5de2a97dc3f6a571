/**
 * One storage node: the tunnel to the edge, the credential cache, the mailbox
 * store and the protocol servers, started and stopped together.
 *
 * Peer links: the node listens for other nodes on `peerHost:peerPort` and
 * announces the URL they should dial (`peerUrl`, or ws(s)://peerHost:port) to
 * the edge after every tunnel connect (`node.announce`); it finds other nodes
 * through the edge (`node.lookup`, cached briefly).
 *
 * IMAP sessions: a login for a mailbox homed on another node is proxied there
 * over a peer session socket (imap/home-proxy.ts, peer/imap-proxy-*.ts); this
 * node accepts such sessions for the mailboxes homed here.
 *
 * Shutdown order (SIGTERM/SIGINT): stop accepting connections (IMAP, then
 * peer links), let in-flight commands finish and sessions say BYE, stop
 * inbound mail and its queues, close outbound peer links, close the mailbox
 * store (every database closed cleanly, WAL checkpointed), then drop the
 * tunnel.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { EdgeAuthenticator } from "./auth/edge-authenticator.ts";
import { CredentialCache, EdgeUnavailableError } from "./auth/credential-cache.ts";
import type { Authenticator } from "./auth/types.ts";
import { createImapServer, type ImapServer } from "./imap/server.ts";
import type { Logger } from "./log.ts";
import type { NodeSettings } from "./settings.ts";
import { createSqliteStore } from "./store/sqlite-store.ts";
import type { MailStore } from "./store/types.ts";
import { ensureSelfSignedCertificate } from "./tls/self-signed.ts";
import { TunnelClient } from "./tunnel/tunnel-client.ts";
import { EdgeReports } from "./tunnel/edge-reports.ts";
import { startInbound, type InboundServices } from "./inbound.ts";
import { NODE_VERSION } from "./version.ts";
import { TUNNEL_LIMITS } from "./limits.ts";
import { PeerDirectory, PeerUnavailableError } from "./peer/peer-directory.ts";
import { PeerPool } from "./peer/peer-pool.ts";
import { PeerServer } from "./peer/peer-server.ts";
import { ImapProxyDialer } from "./peer/imap-proxy-dialer.ts";
import { acceptProxiedSession } from "./peer/imap-proxy-acceptor.ts";

export interface RunningNode {
  settings: NodeSettings;
  tunnel: TunnelClient;
  cache: CredentialCache;
  authenticator: Authenticator;
  store: MailStore;
  listeners: { name: string; port: number }[];
  close(): Promise<void>;
}

async function loadTls(settings: NodeSettings): Promise<{ key: string; cert: string }> {
  if (settings.tlsKeyPath && settings.tlsCertPath) {
    return { key: await readFile(settings.tlsKeyPath, "utf8"), cert: await readFile(settings.tlsCertPath, "utf8") };
  }
  return ensureSelfSignedCertificate(path.join(settings.dataDir, "tls"), settings.hostname);
}

export async function startNode(settings: NodeSettings, logger: Logger): Promise<RunningNode> {
  const startedAt = Date.now();
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const listeners: { name: string; port: number }[] = [];

  const tunnel = new TunnelClient({
    edgeUrl: settings.edgeUrl,
    nodeId: settings.nodeId,
    nodeSecretKey: settings.nodeSecretKey,
    logger,
    handlers: {
      "node.ping": () => ({ pong: true, time: Date.now() }),
      "address.changed": ({ address }) => {
        cache.invalidate(address);
        inbound?.onAddressChanged(address);
        return { invalidated: true };
      },
      "node.status": () => ({
        nodeId: settings.nodeId,
        version: NODE_VERSION,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        listeners,
      }),
    },
    onPush: (event, data) => {
      if (event === "address.changed") {
        cache.invalidate(data.address);
        inbound?.onAddressChanged(data.address);
      }
    },
  });

  const cache = new CredentialCache(async (address) => {
    const result = await tunnel.call("credentials.lookup", { address });
    if (!result.ok) throw new EdgeUnavailableError(`credential look-up failed: ${result.error.code}`);
    return result.value;
  }, settings.credentialCacheMs);
  // Whatever was cached while the tunnel was down may have missed pushes.
  tunnel.on("connected", () => cache.clear());

  const peerDirectory = new PeerDirectory(async (nodeId) => {
    const result = await tunnel.call("node.lookup", { nodeId });
    if (!result.ok) throw new PeerUnavailableError(`peer look-up failed: ${result.error.code}`);
    return result.value;
  });
  tunnel.on("connected", () => peerDirectory.clear());

  const reports = new EdgeReports(tunnel, logger.child({ service: "tunnel" }));
  const baseStore = reports.mirrorGenerations(createSqliteStore({ dataDir: path.join(settings.dataDir, "mailboxes") }));
  const tls = await loadTls(settings);
  const peerLogger = logger.child({ service: "peer" });
  const peerServer = new PeerServer({
    nodeId: settings.nodeId,
    nodeSecretKey: settings.nodeSecretKey,
    directory: peerDirectory,
    logger: peerLogger,
    tls: settings.peerTls ? tls : undefined,
  });
  const peerCa = settings.peerCaPath ? await readFile(settings.peerCaPath, "utf8") : undefined;
  const peerPool = new PeerPool({
    nodeId: settings.nodeId,
    nodeSecretKey: settings.nodeSecretKey,
    directory: peerDirectory,
    logger: peerLogger,
    ca: peerCa,
  });
  let inbound: InboundServices | null = null;
  inbound = await startInbound({
    settings,
    logger: logger.child({ service: "inbound" }),
    tunnel,
    cache,
    store: baseStore,
    tls,
    listeners,
    peers: { server: peerServer, pool: peerPool },
  });
  const { port: peerPort } = await peerServer.listen({ host: settings.peerHost, port: settings.peerPort });
  listeners.push({ name: "peer", port: peerPort });
  const peerUrl = settings.peerUrl || `${settings.peerTls ? "wss" : "ws"}://${settings.peerHost.includes(":") ? `[${settings.peerHost}]` : settings.peerHost}:${peerPort}`;
  const announce = () => {
    tunnel.call("node.announce", { peerUrl }).then(
      (result) => {
        if (result.ok) peerLogger.info({ peerUrl }, "peer URL announced");
        else peerLogger.warn({ code: result.error.code }, "peer URL not announced to the edge");
      },
      () => undefined,
    );
  };
  tunnel.on("connected", announce);
  const store = inbound.store;
  const authenticator = new EdgeAuthenticator({
    cache,
    logger: logger.child({ service: "auth" }),
    failureDelayMs: settings.authFailureDelayMs,
    onSuccess: (auth) => {
      reports.passwordUsed(auth.passwordId);
      // The sealing secret is needed where the mailbox opens: on its home node only.
      if (auth.homeNode === null || auth.homeNode === settings.nodeId) inbound?.onLogin(auth);
    },
  });

  const imap: ImapServer = createImapServer({
    store,
    authenticator,
    logger: logger.child({ service: "imap" }),
    tls,
    loginDisabledOnPlaintext: settings.loginDisabledOnPlaintext,
    hostname: settings.hostname,
    nodeId: settings.nodeId,
    homeProxy: new ImapProxyDialer({
      nodeId: settings.nodeId,
      nodeSecretKey: settings.nodeSecretKey,
      directory: peerDirectory,
      logger: peerLogger,
      ca: peerCa,
      limits: { proxyKeepaliveMs: settings.peerKeepaliveMs },
    }),
  });
  peerServer.handleSessions((ws, peerId) => acceptProxiedSession(ws, peerId, imap, peerLogger));
  const imapPlain = await imap.listen({ port: settings.imapPort, host: settings.host });
  listeners.push({ name: "imap", port: imapPlain.port });
  const imapTls = await imap.listen({ port: settings.imapTlsPort, host: settings.host, implicitTls: true });
  listeners.push({ name: "imaps", port: imapTls.port });

  tunnel.start();
  // Logins need the edge: report "started" once the tunnel is up, or after a
  // grace period (the node keeps serving and keeps redialling either way).
  await tunnel.waitConnected(TUNNEL_LIMITS.startupWaitMs).catch(() => logger.warn("the edge is not reachable yet; logins fail as temporary until it is"));
  logger.info({ listeners }, "storage node started");

  let closing: Promise<void> | null = null;
  return {
    settings,
    tunnel,
    cache,
    authenticator,
    store,
    listeners,
    close() {
      closing ??= (async () => {
        logger.info("storage node stopping");
        await imap.close();
        await peerServer.close();
        await inbound?.close();
        await peerPool.close();
        await store.close();
        await tunnel.close();
        logger.info("storage node stopped");
      })();
      return closing;
    },
  };
}
