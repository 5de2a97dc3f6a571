/**
 * Seals inbound mail on worker threads, so the hybrid KEM (several ms of CPU
 * per message in pure JS) does not stall the MX's sockets and uses every core.
 *
 * Invariants:
 * - `seal()` resolves to exactly what shared/crypto/sealing.ts `seal()` gives
 *   for the same inputs (it runs that function); it rejects only when the
 *   inputs are invalid.
 * - A worker that dies is replaced; the requests it held are sealed on the
 *   main thread instead, so a crashed worker never fails a delivery.
 * - The plaintext handed to a worker is a copy; the worker wipes its copy.
 * - With `size` 0 everything is sealed inline (no threads).
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { seal } from "../../shared/crypto/sealing.ts";
import type { SealRequestData, SealResponseData } from "./seal-worker.ts";

// Workers run the TypeScript source: a bootstrap registers tsx's ESM hooks first
// (on Node 20 `execArgv: ["--import", "tsx"]` does not reach a worker's loader).
const TSX_ESM_API = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
const WORKER_ENTRY = new URL("./seal-worker.ts", import.meta.url).href;
const WORKER_BOOTSTRAP = `import(${JSON.stringify(TSX_ESM_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_ENTRY)}); });`;

interface Pending {
  request: SealRequestData;
  resolve: (sealed: Uint8Array) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class SealPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private turn = 0;
  private closed = false;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const entry: PoolWorker = { worker: new Worker(WORKER_BOOTSTRAP, { eval: true }), pending: new Map() };
    entry.worker.unref();
    entry.worker.on("message", (response: SealResponseData) => {
      const pending = entry.pending.get(response.id);
      if (!pending) return;
      entry.pending.delete(response.id);
      if ("sealed" in response) pending.resolve(response.sealed);
      else pending.reject(new RangeError("sealing failed"));
    });
    const fail = () => {
      const orphans = [...entry.pending.values()];
      entry.pending.clear();
      for (const p of orphans) this.sealInline(p);
      const index = this.workers.indexOf(entry);
      if (index >= 0 && !this.closed) this.workers[index] = this.spawn();
    };
    entry.worker.on("error", fail);
    entry.worker.on("exit", () => {
      if (entry.pending.size > 0 || !this.closed) fail();
    });
    return entry;
  }

  private sealInline(p: Pending): void {
    try {
      p.resolve(seal(p.request.publicKey, p.request.plaintext, p.request.context));
    } catch (error) {
      p.reject(error instanceof Error ? error : new RangeError("sealing failed"));
    }
  }

  seal(publicKey: Uint8Array, plaintext: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
    const request: SealRequestData = { id: this.nextId++, publicKey, plaintext: plaintext.slice(), context };
    return new Promise<Uint8Array>((resolve, reject) => {
      const pending: Pending = { request, resolve, reject };
      if (this.closed || this.workers.length === 0) return this.sealInline(pending);
      const entry = this.workers[this.turn++ % this.workers.length];
      entry.pending.set(request.id, pending);
      entry.worker.ref();
      entry.worker.postMessage(request);
    }).finally(() => {
      for (const w of this.workers) if (w.pending.size === 0) w.worker.unref();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    for (const w of workers) for (const p of w.pending.values()) this.sealInline(p);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
