import { describe, expect, it } from "vitest";
import { EdgeToNodeMethods, NodeToEdgeMethods } from "./messages.ts";
import { RpcError, RpcPeer } from "./rpc-peer.ts";

/** Two peers wired back to back through an in-memory "socket". */
function pair(options: { dropFromA?: boolean; handlerB?: () => never } = {}) {
  const pushes: unknown[] = [];
  const peers: { b?: RpcPeer } = {};
  const a = new RpcPeer({
    send: (text) => {
      if (!options.dropFromA) queueMicrotask(() => void peers.b?.receive(text));
    },
    schemas: EdgeToNodeMethods,
    handlers: { "node.ping": () => ({ pong: true, time: 1 }) },
    timeoutMs: 50,
    idPrefix: "a",
  });
  const b = new RpcPeer({
    send: (text) => queueMicrotask(() => void a.receive(text)),
    schemas: NodeToEdgeMethods,
    handlers: {
      "credentials.lookup": ({ address }) => {
        if (address === "boom@example.test") throw new Error("secret detail that must not leak");
        if (address === "denied@example.test") throw new RpcError("denied", "not allowed");
        return null;
      },
    },
    onPush: (frame) => pushes.push(frame),
    idPrefix: "b",
  });
  peers.b = b;
  return { a, b, pushes };
}

describe("RpcPeer", () => {
  it("answers a call with the handler's result", async () => {
    const { a } = pair();
    expect(await a.call("credentials.lookup", { address: "x@example.test" })).toEqual({ ok: true, value: null });
  });

  it("turns a thrown exception into a generic internal error", async () => {
    const { a } = pair();
    const result = await a.call("credentials.lookup", { address: "boom@example.test" });
    expect(result).toEqual({ ok: false, error: { code: "internal", message: "internal error" } });
  });

  it("passes RpcError codes through", async () => {
    const { a } = pair();
    expect(await a.call("credentials.lookup", { address: "denied@example.test" })).toEqual({ ok: false, error: { code: "denied", message: "not allowed" } });
  });

  it("refuses invalid parameters before the handler runs", async () => {
    const { a } = pair();
    const result = await a.call("credentials.lookup", { address: "" });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe("invalid-params");
  });

  it("refuses a method the other side does not serve", async () => {
    const { a } = pair();
    const result = await a.call("alias.resolve", { address: "x@example.test" });
    expect(result).toEqual({ ok: false, error: { code: "unknown-method", message: "unknown method alias.resolve" } });
  });

  it("resolves to a timeout when no answer comes", async () => {
    const { a } = pair({ dropFromA: true });
    const result = await a.call("credentials.lookup", { address: "x@example.test" });
    expect(result).toEqual({ ok: false, error: { code: "timeout", message: "no answer to credentials.lookup in time" } });
    expect(a.pendingCount).toBe(0);
  });

  it("fails pending calls on disconnect", async () => {
    const { a } = pair({ dropFromA: true });
    const pending = a.call("credentials.lookup", { address: "x@example.test" }, 10_000);
    a.fail();
    expect(await pending).toEqual({ ok: false, error: { code: "disconnected", message: "tunnel closed" } });
  });

  it("reports a send failure as disconnected", async () => {
    const peer = new RpcPeer({ send: () => { throw new Error("closed"); }, schemas: {}, handlers: {} });
    expect((await peer.call("node.ping", {})).ok).toBe(false);
  });

  it("delivers pushes and rejects frames of another version or shape", async () => {
    const { a, b, pushes } = pair();
    a.push("address.changed", { address: "x@example.test" });
    await new Promise((r) => setTimeout(r, 5));
    expect(pushes).toEqual([{ v: 1, type: "push", event: "address.changed", data: { address: "x@example.test" } }]);
    expect(await b.receive('{"v":2,"type":"push","event":"x","data":null}')).toBe(false);
    expect(await b.receive("not json")).toBe(false);
    expect(await b.receive('{"v":1,"type":"res","id":"nope","ok":true,"result":1}')).toBe(true);
  });
});
