/**
 * Child process for the crash test: appends numbered messages to one mailbox
 * forever and prints each UID once its append has resolved (i.e. is durable).
 * Arguments: <dataDir> <mailboxId> <hex key>.
 */
import { createSqliteStore } from "../../storage-node/store/sqlite-store.ts";

const [dataDir, id, keyHex] = process.argv.slice(2);
const store = createSqliteStore({ dataDir, workers: 1 });
const mb = await store.open({ id, key: Buffer.from(keyHex, "hex"), create: true });
process.stdout.write("ready\n");
for (let i = 1; ; i++) {
  // Several appends in flight at once, so group commit is exercised too.
  const batch = [0, 1, 2, 3].map((j) => {
    const n = i * 4 + j;
    const body = `Subject: crash ${n}\r\nMessage-ID: <crash-${n}@test>\r\n\r\nbody ${n}\r\n`;
    return mb.append("INBOX", new TextEncoder().encode(body)).then((r) => process.stdout.write(`${r.uid} ${n}\n`));
  });
  await Promise.all(batch);
}
