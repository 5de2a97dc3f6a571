/**
 * MX benchmark: deliveries/s and time-to-250 (p50/p99) for 1 KB and 100 KB
 * messages, mailbox offline (sealed into the spool) and online (direct insert
 * into the open SQLite mailbox), in one run. Real edge (workerd), real tunnel,
 * real spool database, real sockets; SPF/DKIM/DMARC run against an unreachable
 * local DNS server (answers fail fast), so DNS latency is not measured.
 *
 *   npm run bench:mx -- [--messages 200] [--concurrency 4]
 *
 * Prints one JSON object. A benchmark prints numbers; nothing here asserts speed.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createTestMailbox } from "../test/support/api.ts";
import { startEdge } from "../test/support/edge.ts";
import { startInboundHarness } from "../test/mx/support/inbound-harness.ts";
import { SmtpWire } from "../test/mx/support/smtp-wire.ts";

interface Options {
  messages: number;
  concurrency: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { messages: 200, concurrency: 4 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--messages") options.messages = Number(argv[++i]);
    else if (argv[i] === "--concurrency") options.concurrency = Number(argv[++i]);
  }
  return options;
}

function message(to: string, size: number): string {
  const head = `From: <bench@sender.example>\r\nTo: <${to}>\r\nSubject: bench ${randomBytes(4).toString("hex")}\r\nMessage-ID: <${randomBytes(8).toString("hex")}@sender.example>\r\n\r\n`;
  const line = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz01234567\r\n";
  let body = "";
  while (head.length + body.length + line.length <= size) body += line;
  return head + body;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function run(port: number, to: string, size: number, options: Options): Promise<Record<string, number>> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      const wire = await SmtpWire.open(port);
      try {
        await wire.command("EHLO bench.example");
        while (next < options.messages) {
          next++;
          const data = message(to, size) + ".\r\n";
          const replies = [await wire.command("MAIL FROM:<bench@sender.example>"), await wire.command(`RCPT TO:<${to}>`), await wire.command("DATA")];
          const refused = replies.find((r, i) => r.code !== (i === 2 ? 354 : 250));
          if (refused) throw new Error(`unexpected reply: ${refused.text}`);
          const t0 = performance.now();
          wire.write(data);
          const reply = await wire.reply(120_000);
          if (reply.code === 250) latencies.push(performance.now() - t0);
          else failed++;
        }
      } finally {
        wire.close();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    messages: latencies.length,
    failed,
    deliveriesPerSecond: Math.round((latencies.length / seconds) * 10) / 10,
    p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const edge = await startEdge();
  // The per-IP rate limit would throttle a benchmark that sends everything from 127.0.0.1.
  const h = await startInboundHarness(edge, { store: "sqlite", mxOverrides: { rateLimit: { messages: Number.MAX_SAFE_INTEGER, windowMs: 60_000 } } });
  const results: Record<string, Record<string, number>> = {};
  try {
    const mailbox = await createTestMailbox(edge, "bench");
    for (const [label, size] of [
      ["1KB", 1024],
      ["100KB", 100 * 1024],
    ] as const) {
      // Offline: nobody has the mailbox open, so each message is sealed into the spool.
      results[`offline-${label}`] = await run(h.mxPort, mailbox.address, size, options);
      // Online: the mailbox is open on this node (the first open drains the spool), direct insert.
      const open = await h.openMailbox(mailbox.address, mailbox.password);
      try {
        results[`online-${label}`] = await run(h.mxPort, mailbox.address, size, options);
      } finally {
        await open.close();
      }
    }
  } finally {
    await h.close();
    await edge.stop();
  }
  process.stdout.write(
    JSON.stringify({ benchmark: "mx", messagesPerCase: options.messages, concurrency: options.concurrency, node: process.version, results }, null, 2) + "\n",
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:mx failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
