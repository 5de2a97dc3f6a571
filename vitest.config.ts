import { defineConfig } from "vitest/config";

// One runner for the whole repository. Tests start real processes and real
// sockets, so they get generous timeouts; none of them asserts wall-clock speed.
export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", ".wrangler/**", "dist/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
