/**
 * What the node tells the edge after the fact: a password was used (for the
 * "last used" column people see), and a mailbox's freshness generation moved
 * (DESIGN §4 — the edge mirrors it and hands it back as the minimum a file
 * must have on the next open).
 *
 * Invariants:
 * - Reports never delay or fail a client operation: they are sent in the
 *   background and a failure is logged, not thrown.
 * - "Password used" is sent at most once per password per interval, so a
 *   client that reconnects every few seconds does not become edge traffic.
 * - The generation report goes out after the open succeeded, so the edge never
 *   learns a generation that no file on disk has.
 */
import type { MailStore } from "../store/types.ts";
import type { Logger } from "../log.ts";
import type { TunnelClient } from "./tunnel-client.ts";

const PASSWORD_USE_INTERVAL_MS = 5 * 60_000;

export class EdgeReports {
  private readonly lastPasswordReport = new Map<string, number>();

  constructor(
    private readonly tunnel: TunnelClient,
    private readonly logger: Logger,
  ) {}

  passwordUsed(passwordId: string, now = Date.now()): void {
    const last = this.lastPasswordReport.get(passwordId);
    if (last !== undefined && now - last < PASSWORD_USE_INTERVAL_MS) return;
    this.lastPasswordReport.set(passwordId, now);
    if (this.lastPasswordReport.size > 100_000) this.lastPasswordReport.clear();
    this.send("password.used", { passwordId });
  }

  generation(mailboxId: string, generation: number): void {
    this.send("mailbox.generation", { mailboxId, generation });
  }

  /** Wraps a store so every successful open reports the mailbox's new generation. */
  mirrorGenerations(store: MailStore): MailStore {
    return {
      open: async (options) => {
        const mailbox = await store.open(options);
        this.generation(mailbox.id, mailbox.generation);
        return mailbox;
      },
      exists: (id) => store.exists(id),
      destroy: (id) => store.destroy(id),
      close: () => store.close(),
    };
  }

  private send(method: "password.used" | "mailbox.generation", params: { passwordId: string } | { mailboxId: string; generation: number }): void {
    const call = method === "password.used" ? this.tunnel.call(method, params as { passwordId: string }) : this.tunnel.call(method, params as { mailboxId: string; generation: number });
    call.then(
      (result) => {
        if (!result.ok) this.logger.debug({ method, code: result.error.code }, "edge report not delivered");
      },
      () => undefined,
    );
  }
}
