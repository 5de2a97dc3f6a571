/**
 * Sender Rewriting Scheme for forwarded mail (the Shevek/Mengwong scheme as
 * libsrs2 and Postfix's postsrsd implement it), so SPF at the next hop sees
 * a sender in our domain and bounces come back to us.
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@forward-domain
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@forward-domain
 *
 * Invariants:
 * - HHHH is the first 4 base32 characters of HMAC-SHA-256(secret, lower-cased
 *   rest of the address); TT is the day number mod 1024 in 2 base32 chars.
 *   Hash and day are checked on reverse: a forged or stale (> 21 days) SRS
 *   address is refused, so bounce relaying is no open relay.
 * - The null sender (a bounce) is never rewritten.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const MAX_AGE_DAYS = 21;
const DAY_MS = 86_400_000;

export class Srs {
  private readonly secret: Uint8Array;
  private readonly now: () => number;

  constructor(secret: Uint8Array, now: () => number = Date.now) {
    if (secret.length < 16) throw new RangeError("SRS secret must be at least 16 bytes");
    this.secret = secret;
    this.now = now;
  }

  private hash(text: string): string {
    const mac = createHmac("sha256", this.secret).update(text.toLowerCase()).digest();
    let out = "";
    for (let i = 0; i < 4; i++) out += BASE32[mac[i] & 31];
    return out;
  }

  private day(): number {
    return Math.floor(this.now() / DAY_MS) % 1024;
  }

  private stamp(): string {
    const d = this.day();
    return BASE32[(d >> 5) & 31] + BASE32[d & 31];
  }

  /** The envelope sender to use when forwarding `sender`'s mail from `forwardDomain`. */
  forward(sender: string, forwardDomain: string): string {
    if (sender === "") return "";
    const at = sender.lastIndexOf("@");
    if (at < 1) return sender;
    const local = sender.slice(0, at);
    const domain = sender.slice(at + 1);
    if (domain.toLowerCase() === forwardDomain.toLowerCase() && /^SRS[01][=+-]/i.test(local)) return sender;
    const srs0 = /^SRS0([=+-])(.*)$/i.exec(local);
    if (srs0) {
      // Already rewritten by an earlier forwarder: point back at it (SRS1).
      const rest = `${domain}=${srs0[1]}${srs0[2]}`;
      return `SRS1=${this.hash(rest)}=${rest}@${forwardDomain}`;
    }
    const srs1 = /^SRS1[=+-][^=]+=([^=]+)==(.*)$/i.exec(local);
    if (srs1) {
      const rest = `${srs1[1]}==${srs1[2]}`;
      return `SRS1=${this.hash(rest)}=${rest}@${forwardDomain}`;
    }
    const rest = `${this.stamp()}=${domain}=${local}`;
    return `SRS0=${this.hash(rest)}=${rest}@${forwardDomain}`;
  }

  /** The address an SRS0 address stands for, or null when it is not one of ours or is stale/forged. */
  reverse(address: string): string | null {
    const at = address.lastIndexOf("@");
    if (at < 1) return null;
    const local = address.slice(0, at);
    const srs0 = /^SRS0[=+-]([A-Za-z2-7]{4})=([A-Za-z2-7]{2})=([^=]+)=(.+)$/i.exec(local);
    if (srs0) {
      const [, hash, stamp, domain, origLocal] = srs0;
      if (!this.hashMatches(hash, `${stamp}=${domain}=${origLocal}`)) return null;
      const then = BASE32.indexOf(stamp[0].toUpperCase()) * 32 + BASE32.indexOf(stamp[1].toUpperCase());
      const age = (this.day() - then + 1024) % 1024;
      if (age > MAX_AGE_DAYS) return null;
      return `${origLocal}@${domain}`;
    }
    const srs1 = /^SRS1[=+-]([A-Za-z2-7]{4})=([^=]+)==(.+)$/i.exec(local);
    if (srs1) {
      const [, hash, forwarder, rest] = srs1;
      if (!this.hashMatches(hash, `${forwarder}==${rest}`)) return null;
      return `SRS0=${rest}@${forwarder}`;
    }
    return null;
  }

  private hashMatches(given: string, text: string): boolean {
    const a = Buffer.from(given.toUpperCase());
    const b = Buffer.from(this.hash(text));
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
