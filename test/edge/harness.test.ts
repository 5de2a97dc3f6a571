import { rm } from "node:fs/promises";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, describe, expect, it } from "vitest";
import { startEdge, type EdgeHandle } from "../support/edge.ts";

describe("edge test harness", () => {
  const handles: EdgeHandle[] = [];
  afterAll(async () => {
    for (const handle of handles) await handle.stop();
    if (handles[0]) await rm(handles[0].persistDir, { recursive: true, force: true });
  });

  it("serves the worker on 127.0.0.1 and keeps D1 data across a restart on the same port", async () => {
    const first = await startEdge();
    handles.push(first);
    expect(first.url).toBe(`http://127.0.0.1:${first.port}`);
    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);

    const created = await fetch(`${first.url}/v1/admin/nodes`, {
      method: "POST",
      headers: { authorization: `Bearer ${first.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "n1", publicKey: Buffer.from(ed25519.keygen().publicKey).toString("base64") }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await first.stop();

    const second = await startEdge({ persistDir: first.persistDir, port: first.port, adminToken: first.adminToken });
    handles.push(second);
    expect(second.url).toBe(first.url);
    const listed = await fetch(`${second.url}/v1/admin/nodes`, {
      headers: { authorization: `Bearer ${second.adminToken}` },
    });
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as { nodes: { id: string }[] };
    expect(body.nodes.map((node) => node.id)).toContain(id);
  });
});
