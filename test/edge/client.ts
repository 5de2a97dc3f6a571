/** A small JSON client for the edge API, used by the edge tests. */
import type { EdgeHandle } from "../support/edge.ts";

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Raw body text, sent as-is with the JSON content type. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function api<T = unknown>(edge: EdgeHandle, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined || options.rawBody !== undefined) {
    headers["content-type"] ??= "application/json";
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  const res = await fetch(`${edge.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === "" ? null : JSON.parse(text)) as T };
}

export interface TestAccount {
  accountId: string;
  email: string;
  apiToken: string;
  password: string;
}

let counter = 0;

/** A fresh account with a unique e-mail address. */
export async function createAccount(edge: EdgeHandle, prefix = "user"): Promise<TestAccount> {
  counter += 1;
  const email = `${prefix}-${counter}-${Math.random().toString(36).slice(2, 8)}@accounts.example`;
  const res = await api<TestAccount>(edge, "POST", "/v1/accounts", { body: { email } });
  if (res.status !== 201) throw new Error(`account creation answered ${res.status}`);
  return res.body;
}

/** A unique domain name for a test. */
export function uniqueDomain(prefix = "d"): string {
  counter += 1;
  return `${prefix}${counter}-${Math.random().toString(36).slice(2, 8)}.example`;
}

export interface ApiLimits {
  loginMaxFailures: number;
  domainsPerAccount: number;
  aliasesPerDomain: number;
  forwardsPerAlias: number;
  webhooksPerAlias: number;
  passwordsPerAlias: number;
  passwordLabelMaxLength: number;
  localPartMaxLength: number;
  quotaBytesMax: number;
  nodeLabelMaxLength: number;
}

/** The limits the edge reports at /v1/limits (the constants it enforces). */
export async function fetchLimits(edge: EdgeHandle): Promise<ApiLimits> {
  const res = await api<ApiLimits>(edge, "GET", "/v1/limits");
  if (res.status !== 200) throw new Error(`limits answered ${res.status}`);
  return res.body;
}
