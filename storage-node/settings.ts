/**
 * Storage-node settings: defaults for local use, overridden by a JSON file
 * (`SEALBOX_CONFIG=path`) and then by environment variables. Every setting,
 * its default and its variable is listed in README.md ("Configuration").
 *
 * Invariant: secrets (the node's signing key) are read from a file or the
 * environment and never logged; `describeSettings()` redacts them.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { PEER_LIMITS } from "./limits.ts";

export interface NodeSettings {
  nodeId: string;
  /** Ed25519 secret key, base64 (see shared/tunnel/handshake.ts). */
  nodeSecretKey: string;
  edgeUrl: string;
  dataDir: string;
  host: string;
  imapPort: number;
  imapTlsPort: number;
  pop3Port: number;
  pop3TlsPort: number;
  mxPort: number;
  submissionPort: number;
  submissionTlsPort: number;
  tlsKeyPath: string | null;
  tlsCertPath: string | null;
  hostname: string;
  loginDisabledOnPlaintext: boolean;
  logLevel: string;
  /** How long a credential record is cached on the node (ms). */
  credentialCacheMs: number;
  /** Delay added to every failed login (ms). */
  authFailureDelayMs: number;
  /** Raw 32-byte key of the spool database, base64. Empty = inbound mail (MX) disabled. Never stored beside the database. */
  spoolKey: string;
  /** DNS servers for SPF/DKIM/DMARC/ARC and MX look-ups, comma-separated "ip" or "ip:port"; empty = system resolver. */
  dnsServers: string;
  /** DNS-over-HTTPS endpoint (RFC 8484 JSON API) for MX look-ups; empty = use dnsServers / system DNS. */
  dohUrl: string;
  /** Static next hops for forwarding, "domain=host:port;*=host:port" ("*" matches every domain). */
  staticRoutes: string;
  /** SMTP port dialled on next hops found in DNS (MX or implicit MX); 25 in production, other values for tests. */
  outboundPort: number;
  /** HTTPS port of MTA-STS policy hosts; 443 in production, other values for tests. */
  mtaStsPort: number;
  /** PEM CA bundle that replaces the system's CAs for MTA-STS policy fetches and MX certificates; null = system CAs. */
  outboundCaPath: string | null;
  /** Allow webhooks to private, loopback and link-local addresses (tests, closed networks). */
  allowPrivateWebhooks: boolean;
  /** Secret for SRS address hashes, base64; empty = derived from spoolKey. */
  srsSecret: string;
  /** DKIM selector and PEM private key file used to sign forwarded mail as the alias's domain; no key = no signature. */
  dkimSelector: string;
  dkimPrivateKeyPath: string | null;
  /** First retry delay of the forwarding queue (doubles per attempt). RFC 5321 §4.5.4.1: at least 30 minutes. */
  outboundRetryBaseMs: number;
  /** First retry delay of the webhook queue (doubles per attempt). */
  webhookRetryBaseMs: number;
  /** Address and port the peer-link server (other nodes relay mail here) listens on. Port 0 = any free port. */
  peerHost: string;
  peerPort: number;
  /** The URL other nodes dial, announced to the edge; empty = ws(s)://peerHost:<listening port>. */
  peerUrl: string;
  /** Serve peer links over TLS (wss://) with tlsKeyPath/tlsCertPath; dialled wss:// peers must present a trusted certificate. */
  peerTls: boolean;
  /** Extra CA certificate (PEM file) trusted for wss:// peers, e.g. a private CA; unset = system CAs only. */
  peerCaPath: string | null;
  /** First retry delay of the relay queue (doubles per attempt, capped; relays never give up). */
  relayRetryBaseMs: number;
  /** Silence after which a proxied IMAP session's link to the home node is dead (PEER_LIMITS.proxyKeepaliveMs). */
  peerKeepaliveMs: number;
}

interface SettingSpec {
  key: keyof NodeSettings;
  env: string;
  kind: "string" | "port" | "int" | "bool" | "nullable-string";
}

export const SETTING_SPECS: readonly SettingSpec[] = [
  { key: "nodeId", env: "SEALBOX_NODE_ID", kind: "string" },
  { key: "nodeSecretKey", env: "SEALBOX_NODE_SECRET_KEY", kind: "string" },
  { key: "edgeUrl", env: "SEALBOX_EDGE_URL", kind: "string" },
  { key: "dataDir", env: "SEALBOX_DATA_DIR", kind: "string" },
  { key: "host", env: "SEALBOX_HOST", kind: "string" },
  { key: "imapPort", env: "SEALBOX_IMAP_PORT", kind: "port" },
  { key: "imapTlsPort", env: "SEALBOX_IMAPS_PORT", kind: "port" },
  { key: "pop3Port", env: "SEALBOX_POP3_PORT", kind: "port" },
  { key: "pop3TlsPort", env: "SEALBOX_POP3S_PORT", kind: "port" },
  { key: "mxPort", env: "SEALBOX_MX_PORT", kind: "port" },
  { key: "submissionPort", env: "SEALBOX_SUBMISSION_PORT", kind: "port" },
  { key: "submissionTlsPort", env: "SEALBOX_SUBMISSIONS_PORT", kind: "port" },
  { key: "tlsKeyPath", env: "SEALBOX_TLS_KEY", kind: "nullable-string" },
  { key: "tlsCertPath", env: "SEALBOX_TLS_CERT", kind: "nullable-string" },
  { key: "hostname", env: "SEALBOX_HOSTNAME", kind: "string" },
  { key: "loginDisabledOnPlaintext", env: "SEALBOX_LOGINDISABLED", kind: "bool" },
  { key: "logLevel", env: "SEALBOX_LOG_LEVEL", kind: "string" },
  { key: "credentialCacheMs", env: "SEALBOX_CREDENTIAL_CACHE_MS", kind: "int" },
  { key: "authFailureDelayMs", env: "SEALBOX_AUTH_FAILURE_DELAY_MS", kind: "int" },
  { key: "spoolKey", env: "SEALBOX_SPOOL_KEY", kind: "string" },
  { key: "dnsServers", env: "SEALBOX_DNS_SERVERS", kind: "string" },
  { key: "dohUrl", env: "SEALBOX_DOH_URL", kind: "string" },
  { key: "staticRoutes", env: "SEALBOX_STATIC_ROUTES", kind: "string" },
  { key: "outboundPort", env: "SEALBOX_OUTBOUND_PORT", kind: "port" },
  { key: "mtaStsPort", env: "SEALBOX_MTA_STS_PORT", kind: "port" },
  { key: "outboundCaPath", env: "SEALBOX_OUTBOUND_CA", kind: "nullable-string" },
  { key: "allowPrivateWebhooks", env: "SEALBOX_ALLOW_PRIVATE_WEBHOOKS", kind: "bool" },
  { key: "srsSecret", env: "SEALBOX_SRS_SECRET", kind: "string" },
  { key: "dkimSelector", env: "SEALBOX_DKIM_SELECTOR", kind: "string" },
  { key: "dkimPrivateKeyPath", env: "SEALBOX_DKIM_PRIVATE_KEY", kind: "nullable-string" },
  { key: "outboundRetryBaseMs", env: "SEALBOX_OUTBOUND_RETRY_BASE_MS", kind: "int" },
  { key: "webhookRetryBaseMs", env: "SEALBOX_WEBHOOK_RETRY_BASE_MS", kind: "int" },
  { key: "peerHost", env: "SEALBOX_PEER_HOST", kind: "string" },
  { key: "peerPort", env: "SEALBOX_PEER_PORT", kind: "port" },
  { key: "peerUrl", env: "SEALBOX_PEER_URL", kind: "string" },
  { key: "peerTls", env: "SEALBOX_PEER_TLS", kind: "bool" },
  { key: "peerCaPath", env: "SEALBOX_PEER_CA", kind: "nullable-string" },
  { key: "relayRetryBaseMs", env: "SEALBOX_RELAY_RETRY_BASE_MS", kind: "int" },
  { key: "peerKeepaliveMs", env: "SEALBOX_PEER_KEEPALIVE_MS", kind: "int" },
];

export const DEFAULT_SETTINGS: NodeSettings = {
  nodeId: "",
  nodeSecretKey: "",
  edgeUrl: "http://127.0.0.1:8787",
  dataDir: ".sealbox/data",
  host: "127.0.0.1",
  imapPort: 1143,
  imapTlsPort: 1993,
  pop3Port: 1110,
  pop3TlsPort: 1995,
  mxPort: 2525,
  submissionPort: 2587,
  submissionTlsPort: 2465,
  tlsKeyPath: null,
  tlsCertPath: null,
  hostname: "localhost",
  loginDisabledOnPlaintext: false,
  logLevel: "info",
  credentialCacheMs: 60_000,
  authFailureDelayMs: 1_000,
  spoolKey: "",
  dnsServers: "",
  dohUrl: "",
  staticRoutes: "",
  outboundPort: 25,
  mtaStsPort: 443,
  outboundCaPath: null,
  allowPrivateWebhooks: false,
  srsSecret: "",
  dkimSelector: "sealbox",
  dkimPrivateKeyPath: null,
  outboundRetryBaseMs: 30 * 60_000,
  webhookRetryBaseMs: 30_000,
  peerHost: "127.0.0.1",
  peerPort: 2526,
  peerUrl: "",
  peerTls: false,
  peerCaPath: null,
  relayRetryBaseMs: 5_000,
  peerKeepaliveMs: PEER_LIMITS.proxyKeepaliveMs,
};

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

function coerce(spec: SettingSpec, raw: unknown, source: string): NodeSettings[keyof NodeSettings] {
  const text = typeof raw === "string" ? raw.trim() : raw;
  switch (spec.kind) {
    case "string":
      if (typeof text !== "string") throw new SettingsError(`${source}: ${spec.key} must be a string`);
      return text;
    case "nullable-string":
      if (text === null || text === "") return null;
      if (typeof text !== "string") throw new SettingsError(`${source}: ${spec.key} must be a string`);
      return text;
    case "bool":
      if (typeof text === "boolean") return text;
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      throw new SettingsError(`${source}: ${spec.key} must be true or false`);
    case "port":
    case "int": {
      const n = typeof text === "number" ? text : Number(text);
      const max = spec.kind === "port" ? 65535 : Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(n) || n < 0 || n > max) throw new SettingsError(`${source}: ${spec.key} must be an integer from 0 to ${max}`);
      return n;
    }
  }
}

/** Loads settings from defaults, an optional JSON file and the environment (highest precedence). */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): NodeSettings {
  const settings: NodeSettings = { ...DEFAULT_SETTINGS };
  const assign = (spec: SettingSpec, value: unknown, source: string) => {
    (settings as unknown as Record<string, unknown>)[spec.key] = coerce(spec, value, source);
  };
  const file = env.SEALBOX_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new SettingsError(`cannot read settings file ${file}: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null) throw new SettingsError(`settings file ${file} must hold a JSON object`);
    for (const [key, value] of Object.entries(parsed)) {
      const spec = SETTING_SPECS.find((s) => s.key === key);
      if (!spec) throw new SettingsError(`settings file ${file}: unknown setting "${key}"`);
      assign(spec, value, file);
    }
  }
  for (const spec of SETTING_SPECS) {
    const value = env[spec.env];
    if (value !== undefined) assign(spec, value, spec.env);
  }
  if (!settings.nodeId) throw new SettingsError("nodeId is required (SEALBOX_NODE_ID)");
  if (!settings.nodeSecretKey) throw new SettingsError("nodeSecretKey is required (SEALBOX_NODE_SECRET_KEY)");
  if (settings.peerUrl && !/^wss?:\/\/[^\s]+$/.test(settings.peerUrl)) throw new SettingsError("peerUrl must be a ws:// or wss:// URL");
  settings.dataDir = path.resolve(settings.dataDir);
  return settings;
}

/** Settings safe to log. */
export function describeSettings(settings: NodeSettings): Record<string, unknown> {
  return {
    ...settings,
    nodeSecretKey: "[redacted]",
    spoolKey: settings.spoolKey ? "[redacted]" : "",
    srsSecret: settings.srsSecret ? "[redacted]" : "",
  };
}
