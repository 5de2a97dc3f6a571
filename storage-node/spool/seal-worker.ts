/**
 * Worker thread body of the seal pool: seals plaintexts to public keys
 * (shared/crypto/sealing.ts) off the main thread. Stateless: every request
 * carries its key, plaintext and context; nothing is kept between requests.
 */
import { parentPort } from "node:worker_threads";
import { generateSealingKeyPair, seal } from "../../shared/crypto/sealing.ts";

export interface SealRequestData {
  id: number;
  publicKey: Uint8Array;
  plaintext: Uint8Array;
  context: Uint8Array;
}

export type SealResponseData = { id: number; sealed: Uint8Array } | { id: number; error: string };

// Warm the KEM and cipher code once at start, so the first delivery does not pay for it.
seal(generateSealingKeyPair().publicKey, new Uint8Array(1));

parentPort?.on("message", (request: SealRequestData) => {
  try {
    const sealed = seal(request.publicKey, request.plaintext, request.context);
    request.plaintext.fill(0);
    parentPort?.postMessage({ id: request.id, sealed } satisfies SealResponseData, [sealed.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: error instanceof Error ? error.name : "error" } satisfies SealResponseData);
  }
});
