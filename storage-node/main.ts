/**
 * Storage node entry point: `node --import tsx storage-node/main.ts`.
 * Settings from SEALBOX_* variables and/or SEALBOX_CONFIG (see settings.ts).
 * Prints one JSON line `{"event":"ready",…}` on stdout-log once listening,
 * and exits 0 after a graceful shutdown on SIGTERM or SIGINT.
 */
import { NODE_STOP_SIGNAL_COALESCE_MS } from "./limits.ts";
import { createLogger } from "./log.ts";
import { startNode } from "./node.ts";
import { describeSettings, loadSettings, SettingsError } from "./settings.ts";

async function main(): Promise<void> {
  let settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`sealbox node: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(settings.logLevel);
  logger.debug({ settings: describeSettings(settings) }, "settings");
  const node = await startNode(settings, logger);
  logger.info({ event: "ready", nodeId: settings.nodeId, listeners: node.listeners }, "ready");

  let firstSignalAt: number | null = null;
  const stop = (signal: string) => {
    if (firstSignalAt !== null) {
      if (Date.now() - firstSignalAt < NODE_STOP_SIGNAL_COALESCE_MS) return;
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, "shutting down");
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`sealbox node failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
