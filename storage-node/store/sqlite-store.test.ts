import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { describeMailStoreConformance } from "./conformance.ts";
import { createSqliteStore } from "./sqlite-store.ts";

const dir = mkdtempSync(join(tmpdir(), "sealbox-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeMailStoreConformance("sqlite", () => createSqliteStore({ dataDir: dir, workers: 2 }));
