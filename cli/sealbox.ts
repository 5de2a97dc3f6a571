/**
 * `sealbox` — admin work over the HTTP API.
 *
 * Talks to the local edge by default, with credentials from `.sealbox/`
 * (written by `npm start`); `--edge`, `--token`, `--admin-token` or the
 * SEALBOX_EDGE_URL / SEALBOX_TOKEN / SEALBOX_ADMIN_TOKEN variables point it
 * elsewhere. `--json` prints machine-readable output. Secrets that the API
 * shows once (tokens, passwords) are printed once and stored nowhere by this
 * tool, except `account create`, which saves its token for later commands.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { ApiClient, ApiError, type WebhookStatusData } from "./api-client.ts";
import { generateNodeKeyPair } from "../shared/tunnel/handshake.ts";

/** One line per webhook for `alias show`: URL, last success, last failure (its class only) and abandoned deliveries. */
function webhookStatusLine(url: string, status: WebhookStatusData): string {
  const failure = status.lastFailureAt ? `${status.lastFailureAt} (${status.lastFailure ?? "error"})` : "never";
  return `  ${url}\n    last success: ${status.lastSuccessAt ?? "never"}  last failure: ${failure}  abandoned: ${status.abandoned}`;
}

const USAGE = `usage: sealbox [--json] [--edge URL] [--token TOKEN] [--admin-token TOKEN] <command>

commands:
  account create <email>                       create an account; prints its API token and password
  domain add <domain>                          add a domain to the account
  domain list
  domain delete <domain>
  alias create <address> [--no-imap] [--forward ADDR]... [--webhook URL]... [--quota BYTES]
  alias list <domain>
  alias show <address>
  alias delete <address>
  password generate <address> --label LABEL [--existing PASSWORD]
  password list <address>
  password revoke <address> <id>
  node register --label LABEL [--out FILE]     register a storage node (admin); writes its key to FILE
  node list                                    (admin)
  node status <id>                             edge → node round trip (admin)
`;

interface Saved {
  edgeUrl?: string;
  apiToken?: string;
  adminToken?: string;
}

async function readJson(file: string): Promise<Saved> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Saved;
  } catch {
    return {};
  }
}

function fail(message: string, code = 1): never {
  process.stderr.write(`sealbox: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      edge: { type: "string" },
      token: { type: "string" },
      "admin-token": { type: "string" },
      "state-dir": { type: "string" },
      label: { type: "string" },
      existing: { type: "string" },
      forward: { type: "string", multiple: true },
      webhook: { type: "string", multiple: true },
      quota: { type: "string" },
      "no-imap": { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return;
  }
  const stateDir = path.resolve(values["state-dir"] ?? process.env.SEALBOX_STATE_DIR ?? ".sealbox");
  const cli = await readJson(path.join(stateDir, "cli.json"));
  const demo = await readJson(path.join(stateDir, "demo.json"));
  const admin = await readJson(path.join(stateDir, "admin.json"));
  const edgeUrl = values.edge ?? process.env.SEALBOX_EDGE_URL ?? cli.edgeUrl ?? demo.edgeUrl ?? "http://127.0.0.1:8787";
  const token = values.token ?? process.env.SEALBOX_TOKEN ?? cli.apiToken ?? demo.apiToken;
  const adminToken = values["admin-token"] ?? process.env.SEALBOX_ADMIN_TOKEN ?? admin.adminToken;
  const api = new ApiClient({ edgeUrl, token });
  const json = values.json;

  const print = (data: unknown, human: string) => process.stdout.write(json ? JSON.stringify(data) + "\n" : human + "\n");
  const needAdmin = () => adminToken ?? fail("an admin token is needed (--admin-token or SEALBOX_ADMIN_TOKEN)");
  const arg = (i: number, what: string) => positionals[i] ?? fail(`missing ${what}\n\n${USAGE}`, 2);

  const [group, action] = positionals;
  const command = `${group} ${action ?? ""}`.trim();
  switch (command) {
    case "account create": {
      const created = await api.createAccount(arg(2, "email"));
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      await writeFile(path.join(stateDir, "cli.json"), JSON.stringify({ edgeUrl, apiToken: created.apiToken }, null, 2) + "\n", { mode: 0o600 });
      print(created, `account ${created.accountId}\napi token: ${created.apiToken}\npassword:  ${created.password}\n(shown once; the token is saved in ${path.join(stateDir, "cli.json")})`);
      return;
    }
    case "domain add": {
      const domain = await api.addDomain(arg(2, "domain"));
      print(domain, `added ${domain.name}`);
      return;
    }
    case "domain list": {
      const { domains } = await api.listDomains();
      print({ domains }, domains.map((d) => d.name).join("\n") || "(no domains)");
      return;
    }
    case "domain delete": {
      await api.deleteDomain(arg(2, "domain"));
      print({ deleted: positionals[2] }, `deleted ${positionals[2]}`);
      return;
    }
    case "alias create": {
      const quota = values.quota === undefined ? undefined : Number(values.quota);
      if (quota !== undefined && (!Number.isInteger(quota) || quota < 0)) fail("--quota takes a whole number of bytes", 2);
      const alias = await api.createAlias(arg(2, "address"), {
        imap: !values["no-imap"],
        forwardTo: values.forward ?? [],
        webhooks: (values.webhook ?? []).map((url) => ({ url })),
        ...(quota !== undefined ? { quotaBytes: quota } : {}),
      });
      print(alias, `created ${alias.address}${alias.webhooks.some((w) => w.signingKey) ? "\nwebhook signing keys (shown once):\n" + alias.webhooks.map((w) => `  ${w.url} ${w.signingKey ?? ""}`).join("\n") : ""}`);
      return;
    }
    case "alias list": {
      const { aliases } = await api.listAliases(arg(2, "domain"));
      print({ aliases }, aliases.map((a) => `${a.address}${a.imap ? "  imap" : ""}${a.forwardTo.length ? "  → " + a.forwardTo.join(", ") : ""}`).join("\n") || "(no aliases)");
      return;
    }
    case "alias show": {
      const alias = await api.getAlias(arg(2, "address"));
      const hooks = alias.webhooks.map((hook) => webhookStatusLine(hook.url, hook.status));
      print(alias, JSON.stringify({ ...alias, webhooks: undefined }, null, 2) + (hooks.length > 0 ? `
webhooks:
${hooks.join("\n")}` : ""));
      return;
    }
    case "alias delete": {
      await api.deleteAlias(arg(2, "address"));
      print({ deleted: positionals[2] }, `deleted ${positionals[2]}`);
      return;
    }
    case "password generate": {
      const label = values.label ?? fail("--label is required", 2);
      const created = await api.generatePassword(arg(2, "address"), label, values.existing);
      print(created, `password for ${positionals[2]} (${label}), shown once:\n${created.password}\nid: ${created.id}`);
      return;
    }
    case "password list": {
      const { passwords } = await api.listPasswords(arg(2, "address"));
      print({ passwords }, passwords.map((p) => `${p.id}  ${p.label}  created ${p.createdAt}  last used ${p.lastUsedAt ?? "never"}`).join("\n") || "(no passwords)");
      return;
    }
    case "password revoke": {
      await api.revokePassword(arg(2, "address"), arg(3, "password id"));
      print({ revoked: positionals[3] }, `revoked ${positionals[3]}`);
      return;
    }
    case "node register": {
      const label = values.label ?? fail("--label is required", 2);
      const keys = generateNodeKeyPair();
      const { id } = await api.registerNode(needAdmin(), label, keys.publicKey);
      const out = values.out;
      if (out) await writeFile(out, JSON.stringify({ nodeId: id, nodeSecretKey: keys.secretKey }, null, 2) + "\n", { mode: 0o600 });
      print(
        out ? { id, keyFile: out } : { id, nodeSecretKey: keys.secretKey },
        out ? `registered node ${id}; its settings are in ${out} (use SEALBOX_CONFIG=${out})` : `registered node ${id}\nnode secret key (shown once): ${keys.secretKey}`,
      );
      return;
    }
    case "node list": {
      const { nodes } = await api.listNodes(needAdmin());
      print({ nodes }, nodes.map((n) => `${n.id}  ${n.label}  last seen ${n.lastSeenAt ?? "never"}`).join("\n") || "(no nodes)");
      return;
    }
    case "node status": {
      const status = await api.nodeStatus(needAdmin(), arg(2, "node id"));
      print(status, JSON.stringify(status, null, 2));
      return;
    }
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`, 2);
  }
}

main().catch((error: unknown) => {
  if (error instanceof ApiError) fail(`${error.message} (${error.code}${error.status ? ", HTTP " + error.status : ""})`);
  fail(error instanceof Error ? error.message : String(error));
});
