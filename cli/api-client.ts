/**
 * A small typed client for the Sealbox HTTP API, used by the `sealbox` CLI,
 * `npm start` and the tests. Every non-2xx answer becomes an `ApiError`
 * carrying the API's error code; secrets in responses are returned to the
 * caller and never printed here.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export interface ApiClientOptions {
  edgeUrl: string;
  token?: string;
}

export interface AccountCreatedData {
  accountId: string;
  email: string;
  apiToken: string;
  password: string;
}

export interface WebhookStatusData {
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastFailure: string | null;
  abandoned: number;
  lastAbandonedAt: string | null;
}

export interface AliasData {
  address: string;
  localPart: string;
  domain: string;
  imap: boolean;
  quotaBytes: number | null;
  forwardTo: string[];
  webhooks: { id: string; url: string; signingKey?: string; status: WebhookStatusData }[];
  [key: string]: unknown;
}

export interface PasswordCreatedData {
  id: string;
  label: string;
  password: string;
  createdAt: string;
}

export interface PasswordListedData {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export class ApiClient {
  readonly edgeUrl: string;
  token: string | undefined;

  constructor(options: ApiClientOptions) {
    this.edgeUrl = options.edgeUrl.replace(/\/+$/, "");
    this.token = options.token;
  }

  async request<T>(method: string, path: string, body?: unknown, token = this.token): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(this.edgeUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, "unreachable", `cannot reach the edge at ${this.edgeUrl}: ${(error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError(response.status, error?.code ?? "http-" + response.status, error?.message ?? `HTTP ${response.status}`);
    }
    return parsed as T;
  }

  createAccount(email: string): Promise<AccountCreatedData> {
    return this.request("POST", "/v1/accounts", { email }, undefined);
  }

  login(email: string, password: string, totp?: string): Promise<{ apiToken: string }> {
    return this.request("POST", "/v1/auth/login", { email, password, ...(totp ? { totp } : {}) }, undefined);
  }

  listDomains(): Promise<{ domains: { name: string }[] }> {
    return this.request("GET", "/v1/domains");
  }

  addDomain(name: string): Promise<{ name: string }> {
    return this.request("POST", "/v1/domains", { name });
  }

  deleteDomain(name: string): Promise<void> {
    return this.request("DELETE", `/v1/domains/${encodeURIComponent(name)}`);
  }

  createAlias(address: string, options: { imap?: boolean; forwardTo?: string[]; quotaBytes?: number | null; webhooks?: { url: string }[] } = {}): Promise<AliasData> {
    const { local, domain } = splitAddress(address);
    return this.request("POST", `/v1/domains/${encodeURIComponent(domain)}/aliases`, { localPart: local, imap: options.imap ?? true, ...options });
  }

  getAlias(address: string): Promise<AliasData> {
    const { local, domain } = splitAddress(address);
    return this.request("GET", `/v1/domains/${encodeURIComponent(domain)}/aliases/${encodeURIComponent(local)}`);
  }

  listAliases(domain: string): Promise<{ aliases: AliasData[] }> {
    return this.request("GET", `/v1/domains/${encodeURIComponent(domain)}/aliases`);
  }

  deleteAlias(address: string): Promise<void> {
    const { local, domain } = splitAddress(address);
    return this.request("DELETE", `/v1/domains/${encodeURIComponent(domain)}/aliases/${encodeURIComponent(local)}`);
  }

  generatePassword(address: string, label: string, existingPassword?: string): Promise<PasswordCreatedData> {
    const { local, domain } = splitAddress(address);
    return this.request("POST", `/v1/domains/${encodeURIComponent(domain)}/aliases/${encodeURIComponent(local)}/passwords`, {
      label,
      ...(existingPassword ? { existingPassword } : {}),
    });
  }

  listPasswords(address: string): Promise<{ passwords: PasswordListedData[] }> {
    const { local, domain } = splitAddress(address);
    return this.request("GET", `/v1/domains/${encodeURIComponent(domain)}/aliases/${encodeURIComponent(local)}/passwords`);
  }

  revokePassword(address: string, id: string): Promise<void> {
    const { local, domain } = splitAddress(address);
    return this.request("DELETE", `/v1/domains/${encodeURIComponent(domain)}/aliases/${encodeURIComponent(local)}/passwords/${encodeURIComponent(id)}`);
  }

  registerNode(adminToken: string, label: string, publicKey: string): Promise<{ id: string }> {
    return this.request("POST", "/v1/admin/nodes", { label, publicKey }, adminToken);
  }

  listNodes(adminToken: string): Promise<{ nodes: { id: string; label: string; lastSeenAt: string | null }[] }> {
    return this.request("GET", "/v1/admin/nodes", undefined, adminToken);
  }

  nodeStatus(adminToken: string, nodeId: string): Promise<{ nodeId: string; version: string; uptimeSeconds: number; listeners: { name: string; port: number }[] }> {
    return this.request("GET", `/v1/admin/nodes/${encodeURIComponent(nodeId)}/status`, undefined, adminToken);
  }
}

export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) throw new ApiError(0, "invalid-address", `not an address: ${address}`);
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}
