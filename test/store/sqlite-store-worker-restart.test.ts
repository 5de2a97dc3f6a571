/**
 * A storage worker that dies is replaced, and the mailboxes it owned are
 * reopened on the new worker at their next use: handles stay valid, data and
 * watchers survive, and a file rolled back while its worker was down is
 * refused (freshness).
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { StoreError, type MailboxChangeEvent, type MailStore } from "../../storage-node/store/types.ts";
import { useStoreFixtures } from "./store-fixtures.ts";

const enc = new TextEncoder();
const fixtures = useStoreFixtures("restart");

function setup(): { dir: string; store: MailStore; started: Worker[] } {
  const dir = fixtures.tempDir();
  const started: Worker[] = [];
  const store = fixtures.store({ dataDir: dir, workers: 1, onWorkerStart: (w) => started.push(w) });
  return { dir, store, started };
}

async function crash(w: Worker): Promise<void> {
  const exited = new Promise((resolve) => w.once("exit", resolve));
  await w.terminate();
  await exited;
}

const message = (n: number) => enc.encode(`Subject: restart ${n}\r\nMessage-ID: <restart-${n}@test>\r\n\r\nbody ${n}\r\n`);

describe("SQLite store worker restart", () => {
  it("replaces a dead worker and reopens its mailboxes on next use", async () => {
    const { store, started } = setup();
    const id = "restart" + randomBytes(6).toString("hex");
    const key = randomBytes(32);
    const a = await store.open({ id, key, create: true });
    const b = await store.open({ id, key });
    await a.append("INBOX", message(1));
    await a.append("INBOX", message(2));
    const events: MailboxChangeEvent[] = [];
    b.watch((e) => events.push(e));
    expect(started).toHaveLength(1);

    // A call racing the crash either answers or fails as temporary, never otherwise.
    const racing = a.uids("INBOX").then(
      (uids) => expect(uids).toEqual([1, 2]),
      (e: unknown) => expect((e as StoreError).kind).toBe("temporary"),
    );
    await crash(started[0]);
    await racing;
    expect(started).toHaveLength(2);

    // Both handles work again, on the new worker.
    expect(await a.uids("INBOX")).toEqual([1, 2]);
    expect((await b.append("INBOX", message(3))).uid).toBe(3);
    // Events follow the answer; the worker posts them before it answers the next call.
    expect(await a.uids("INBOX")).toEqual([1, 2, 3]);
    expect(events.map((e) => e.kind)).toContain("append");
    let body = "";
    for await (const m of a.fetch("INBOX", [{ start: 3, end: 3 }], { sections: [{ part: [], specifier: "" }] }))
      for await (const c of m.sections![0].chunks) body += Buffer.from(c).toString();
    expect(body).toBe(Buffer.from(message(3)).toString());
    // A stream append goes to the live worker too.
    const streamed = await a.append(
      "INBOX",
      (async function* () {
        yield message(4);
      })(),
    );
    expect(streamed.uid).toBe(4);

    // The reopened owner counts both handles: the file closes after the second close only.
    await a.close();
    expect((await b.status("INBOX")).messages).toBe(4);
    await b.close();
    await store.destroy(id);
    expect(await store.exists(id)).toBe(false);
  });

  it("refuses to reopen a file rolled back while its worker was down", async () => {
    const { dir, store, started } = setup();
    const id = "rollback" + randomBytes(6).toString("hex");
    const key = randomBytes(32);
    const path = join(dir, `${id}.sqlite`);
    const first = await store.open({ id, key, create: true });
    await first.close(); // checkpoints: the file alone holds generation 1
    copyFileSync(path, path + ".old");
    const mb = await store.open({ id, key }); // generation 2
    await mb.append("INBOX", message(1));
    await crash(started[0]);
    for (const suffix of ["-wal", "-shm"]) rmSync(path + suffix, { force: true });
    copyFileSync(path + ".old", path);
    let err: unknown;
    try {
      await mb.uids("INBOX");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe("stale");
  });
});
