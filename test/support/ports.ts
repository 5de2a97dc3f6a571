/**
 * Loopback ports for servers a test starts in another process (which must be
 * told its port before it binds).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * Ports the kernel hands out for outgoing connections (Linux: ip_local_port_range).
 * A port picked for a server inside this range can be taken by some test's
 * client socket before the server binds it, so picked ports stay below it.
 */
function ephemeralPortStart(): number {
  try {
    const start = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 20_000 ? start : 32_768;
  } catch {
    return 32_768;
  }
}
const PICKED_PORT_MIN = 20_000;
const PICKED_PORT_END = ephemeralPortStart();

/** A loopback port that is free now, picked at random below the ephemeral range (see above). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = PICKED_PORT_MIN + Math.floor(Math.random() * (PICKED_PORT_END - PICKED_PORT_MIN));
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
