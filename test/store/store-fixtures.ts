/**
 * Temporary data directories and SQLite stores for store tests: each is
 * closed and removed after the test that made it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { createSqliteStoreInternal, type SqliteStoreInternalOptions } from "../../storage-node/store/sqlite-store.ts";
import type { MailStore } from "../../storage-node/store/types.ts";

export function useStoreFixtures(prefix: string): { tempDir(): string; store(options: SqliteStoreInternalOptions): MailStore } {
  const dirs: string[] = [];
  const stores: MailStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), `sealbox-${prefix}-`));
      dirs.push(d);
      return d;
    },
    store(options) {
      const s = createSqliteStoreInternal(options);
      stores.push(s);
      return s;
    },
  };
}
