/**
 * Checks logins against the edge's credential records, on the node.
 *
 * Invariants:
 * - The password never leaves this process: the edge sends wrapped keys, and a
 *   successful unwrap of the mailbox key *is* the password check.
 * - Unknown address, wrong password, revoked password and throttled attempts
 *   all resolve to `null` after the same failure delay. For an unknown address
 *   a dummy unwrap runs, so the work done does not reveal existence either.
 * - If the edge is unreachable, `authenticate` throws `EdgeUnavailableError`
 *   (protocols answer "try again later"), never `null`: a network fault must
 *   not look like a wrong password to a client that would then discard it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { generateMailboxKey, unwrapMailboxKey, wrapMailboxKey } from "../../shared/crypto/mailbox-key.ts";
import { generatePassword, isGeneratedPassword, normalizePassword } from "../../shared/crypto/password.ts";
import { AUTH_LIMITS } from "../limits.ts";
import { maskAddress, type Logger } from "../log.ts";
import { CredentialCache, normalizeAddress } from "./credential-cache.ts";
import { LoginThrottle } from "./login-throttle.ts";
import type { AuthenticatedData, Authenticator, LoginContext } from "./types.ts";

export interface EdgeAuthenticatorOptions {
  cache: CredentialCache;
  logger: Logger;
  failureDelayMs: number;
  throttle?: LoginThrottle;
  /** Called after a successful login (e.g. to record "last used"). */
  onSuccess?: (data: AuthenticatedData) => void;
}


export class EdgeAuthenticator implements Authenticator {
  private readonly options: EdgeAuthenticatorOptions;
  private readonly throttle: LoginThrottle;
  /** A real wrapped key that no client password opens, for equal work on unknown addresses. */
  private readonly dummyRecord = wrapMailboxKey(generateMailboxKey(), generatePassword());

  constructor(options: EdgeAuthenticatorOptions) {
    this.options = options;
    this.throttle = options.throttle ?? new LoginThrottle();
  }

  async authenticate(address: string, password: string, context: LoginContext): Promise<AuthenticatedData | null> {
    const key = normalizeAddress(address);
    const fail = async (reason: string) => {
      this.throttle.recordFailure(context.ip, key);
      this.options.logger.info({ protocol: context.protocol, domain: maskAddress(key), reason }, "login failed");
      await sleep(this.options.failureDelayMs);
      return null;
    };
    if (key.length === 0 || key.length > AUTH_LIMITS.maxAddressLength || password.length === 0 || password.length > AUTH_LIMITS.maxPasswordLength) {
      return fail("malformed");
    }
    if (this.throttle.isBlocked(context.ip, key)) return fail("throttled");

    const record = await this.options.cache.get(key);
    if (!record) {
      unwrapMailboxKey(this.dummyRecord, password);
      return fail("unknown");
    }
    for (const credential of record.passwords) {
      let mailboxKey: Uint8Array | null = null;
      for (const candidate of passwordCandidates(password)) {
        mailboxKey = unwrapMailboxKey(credential, candidate);
        if (mailboxKey) break;
      }
      if (!mailboxKey) continue;
      const data: AuthenticatedData = {
        address: record.address,
        aliasId: record.aliasId,
        mailboxId: record.mailboxId,
        passwordId: credential.id,
        mailboxKey,
        homeNode: record.homeNode,
        quotaBytes: record.quotaBytes,
        generation: record.generation,
        imap: record.imap,
        sealingSecretWrapped: record.sealingSecretWrapped,
      };
      this.options.logger.info({ protocol: context.protocol, domain: maskAddress(key) }, "login succeeded");
      this.options.onSuccess?.(data);
      return data;
    }
    return fail("mismatch");
  }
}

/**
 * The password as typed, then — for something that is a generated password
 * typed by hand — its canonical form: lower case, no spaces, dashes between
 * groups of four. Phones capitalise the first letter; people drop dashes.
 */
export function passwordCandidates(password: string): string[] {
  const candidates = [password];
  const compact = normalizePassword(password).replace(/-/g, "");
  const grouped = compact.match(/.{1,4}/g)?.join("-") ?? "";
  if (grouped !== password && isGeneratedPassword(grouped)) candidates.push(grouped);
  return candidates;
}
