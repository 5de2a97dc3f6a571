/**
 * Test harness: storage-node processes that reach each other over peer links —
 * a registered node identity, its own data directory, spool key, MX and peer
 * ports, kept across restarts of its process.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { newSpoolKey } from "../mx/support/inbound-harness.ts";
import { eventually, registerTestNode } from "./api.ts";
import { freePort, type EdgeHandle } from "./edge.ts";
import { startNodeProcess, type NodeProcessHandle } from "./node-process.ts";

export interface NodeSlot {
  keys: { nodeId: string; secretKey: string; publicKey: string };
  dataDir: string;
  spoolKey: string;
  mxPort: number;
  peerPort: number;
  process: NodeProcessHandle | null;
}

export async function newNodeSlot(edge: EdgeHandle, label: string): Promise<NodeSlot> {
  return {
    keys: await registerTestNode(edge, label),
    dataDir: await mkdtemp(path.join(tmpdir(), `sealbox-peer-${label}-`)),
    spoolKey: newSpoolKey(),
    mxPort: await freePort(),
    peerPort: await freePort(),
    process: null,
  };
}

/** Starts the slot's node (no outside DNS) and waits until its peer URL is announced to the edge. */
export async function startNodeSlot(edge: EdgeHandle, node: NodeSlot, env: Record<string, string> = {}): Promise<NodeProcessHandle> {
  const started = await startNodeProcess({
    edgeUrl: edge.url,
    nodeId: node.keys.nodeId,
    secretKey: node.keys.secretKey,
    dataDir: node.dataDir,
    env: {
      SEALBOX_SPOOL_KEY: node.spoolKey,
      SEALBOX_MX_PORT: String(node.mxPort),
      SEALBOX_PEER_PORT: String(node.peerPort),
      SEALBOX_DNS_SERVERS: "127.0.0.1:9",
      SEALBOX_LOG_LEVEL: "info",
      ...env,
    },
  });
  node.process = started;
  await eventually(() => started.logs.some((l) => l.msg === "peer URL announced"), 20_000, "the peer URL to be announced");
  return started;
}
