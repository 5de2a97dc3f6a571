/**
 * Syntax of the names the API accepts: domains, alias local parts, forward addresses and
 * webhook URLs.
 *
 * Decisions:
 * - ASCII only. Internationalised domains are accepted in their A-label form (`xn--…`);
 *   SMTPUTF8 local parts are not accepted yet.
 * - Names are canonical in lower case. Domains are case-insensitive (RFC 5321 §2.4); local
 *   parts of *aliases* are matched case-insensitively too (as Postfix and Dovecot do by
 *   default), so `Alice@` and `alice@` can never be two different mailboxes.
 * - Alias local parts are a conservative subset of dot-atom (letters, digits, and `.`, `-`, `_`
 *   between them); `+` is kept free for sub-addressing.
 * - Forward addresses accept the full dot-atom `atext` set (RFC 5322 §3.2.3) on a hostname;
 *   quoted local parts and address literals are refused.
 */
import { DOMAIN_LABEL_MAX_LENGTH, DOMAIN_MAX_LENGTH, LOCAL_PART_MAX_LENGTH, WEBHOOK_URL_MAX_LENGTH } from "../limits.ts";

/** Longest address in a forward path (RFC 5321 §4.5.3.1.3 minus the angle brackets). */
const ADDRESS_MAX_LENGTH = 254;

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const ALIAS_LOCAL_PART = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOT_ATOM = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*$`);

/** Canonical (lower-case) domain, or null when `text` is not a valid host name with a dot. */
export function normalizeDomain(text: string): string | null {
  const domain = text.toLowerCase();
  if (domain.length === 0 || domain.length > DOMAIN_MAX_LENGTH) return null;
  const labels = domain.split(".");
  if (labels.length < 2) return null;
  for (const label of labels) {
    if (label.length === 0 || label.length > DOMAIN_LABEL_MAX_LENGTH || !LABEL.test(label)) return null;
  }
  // The top-level label is never all digits (RFC 3696 §2), which also rules out IPv4 literals.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return null;
  return domain;
}

/** Canonical alias local part, or null. */
export function normalizeAliasLocalPart(text: string): string | null {
  const local = text.toLowerCase();
  if (local.length === 0 || local.length > LOCAL_PART_MAX_LENGTH) return null;
  if (!ALIAS_LOCAL_PART.test(local) || local.includes("..")) return null;
  return local;
}

export interface AliasAddressData {
  localPart: string;
  domain: string;
}

/** Splits and canonicalises an alias address (`local@domain`), or null when it is not one. */
export function parseAliasAddress(address: string): AliasAddressData | null {
  if (typeof address !== "string" || address.length > ADDRESS_MAX_LENGTH) return null;
  const at = address.lastIndexOf("@");
  if (at <= 0) return null;
  const localPart = normalizeAliasLocalPart(address.slice(0, at));
  const domain = normalizeDomain(address.slice(at + 1));
  return localPart !== null && domain !== null ? { localPart, domain } : null;
}

/**
 * A forward recipient with its domain lower-cased (the local part is kept as given: it belongs
 * to the remote host, RFC 5321 §2.4), or null when it is not a plain dot-atom address.
 */
export function normalizeForwardAddress(text: string): string | null {
  if (text.length > ADDRESS_MAX_LENGTH) return null;
  const at = text.lastIndexOf("@");
  if (at <= 0) return null;
  const local = text.slice(0, at);
  const domain = normalizeDomain(text.slice(at + 1));
  if (local.length > LOCAL_PART_MAX_LENGTH || !DOT_ATOM.test(local) || domain === null) return null;
  return `${local}@${domain}`;
}

export interface WebhookUrlOptions {
  /** Accept http:// and loopback hosts (local development and tests only). */
  allowLoopback: boolean;
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * The webhook URL in canonical form, or null when it is not acceptable: https only, a host
 * name (not an IP literal, which would let a caller aim deliveries at internal networks), no
 * user info, no fragment. With `allowLoopback`, http and loopback hosts are also accepted.
 * (Nodes re-check the resolved address at delivery time; this is the first fence.)
 */
export function normalizeWebhookUrl(text: string, options: WebhookUrlOptions): string | null {
  if (text.length > WEBHOOK_URL_MAX_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.username !== "" || url.password !== "" || url.hash !== "") return null;
  const loopback = isLoopbackHost(url.hostname);
  if (loopback) return options.allowLoopback && (url.protocol === "http:" || url.protocol === "https:") ? url.href : null;
  if (url.protocol !== "https:") return null;
  if (normalizeDomain(url.hostname) === null) return null;
  return url.href;
}
