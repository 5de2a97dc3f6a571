/**
 * One end of the tunnel's request/response protocol, independent of the
 * socket underneath (ws on the node, a hibernatable WebSocket at the edge).
 *
 * Invariants:
 * - `call()` never throws and never hangs: it resolves to a result value —
 *   success, the remote error, `timeout` after `timeoutMs`, or `disconnected`
 *   when `fail()` is called (socket closed) while it is pending.
 * - Incoming requests are validated against the method's parameter schema
 *   before a handler sees them; an unknown method or invalid parameters are
 *   answered with an error value. A handler that throws is answered with
 *   `internal` and a generic message — exception text never crosses the wire.
 * - Responses to unknown ids (late answers after a timeout) are dropped.
 */
import type { z } from "zod";
import {
  TUNNEL_PROTOCOL_VERSION,
  encodeFrame,
  parseFrame,
  type PushFrameData,
  type RequestFrameData,
  type TunnelErrorData,
  type TunnelMethodName,
  type TunnelMethods,
} from "./messages.ts";

export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: TunnelErrorData };

export type RpcHandler<M extends TunnelMethodName> = (
  params: TunnelMethods[M]["params"],
) => Promise<TunnelMethods[M]["result"]> | TunnelMethods[M]["result"];

export type RpcHandlers = { [M in TunnelMethodName]?: RpcHandler<M> };

/** Error that a handler throws on purpose: its code and message are sent as they are. */
export class RpcError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "RpcError";
    this.code = code;
  }
}

export interface RpcPeerOptions {
  send: (text: string) => void;
  handlers: RpcHandlers;
  /** Parameter schemas of the methods this peer serves. */
  schemas: Partial<Record<TunnelMethodName, z.ZodType>>;
  onPush?: (frame: PushFrameData) => void;
  timeoutMs?: number;
  /** Prefix for request ids, to tell the two directions apart in traces. */
  idPrefix?: string;
}

interface Pending {
  resolve: (result: RpcResult<unknown>) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class RpcPeer {
  private readonly options: RpcPeerOptions;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;

  constructor(options: RpcPeerOptions) {
    this.options = options;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  call<M extends TunnelMethodName>(method: M, params: TunnelMethods[M]["params"], timeoutMs?: number): Promise<RpcResult<TunnelMethods[M]["result"]>> {
    const id = `${this.options.idPrefix ?? "r"}${this.nextId++}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, error: { code: "timeout", message: `no answer to ${method} in time` } });
      }, timeoutMs ?? this.options.timeoutMs ?? 10_000);
      this.pending.set(id, { resolve: resolve as (result: RpcResult<unknown>) => void, timer });
      try {
        this.options.send(encodeFrame({ v: TUNNEL_PROTOCOL_VERSION, type: "req", id, method, params }));
      } catch {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve({ ok: false, error: { code: "disconnected", message: "tunnel is not connected" } });
      }
    });
  }

  push(event: string, data: unknown): void {
    this.options.send(encodeFrame({ v: TUNNEL_PROTOCOL_VERSION, type: "push", event, data }));
  }

  /** Feeds one incoming text frame. Returns false when the frame was not valid. */
  async receive(text: string): Promise<boolean> {
    const frame = parseFrame(text);
    if (!frame) return false;
    if (frame.type === "res") {
      const pending = this.pending.get(frame.id);
      if (!pending) return true;
      this.pending.delete(frame.id);
      clearTimeout(pending.timer);
      pending.resolve(frame.ok ? { ok: true, value: frame.result } : { ok: false, error: frame.error });
      return true;
    }
    if (frame.type === "push") {
      this.options.onPush?.(frame);
      return true;
    }
    await this.answer(frame);
    return true;
  }

  /** Fails every pending call (the socket went away). */
  fail(code = "disconnected", message = "tunnel closed"): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.resolve({ ok: false, error: { code, message } });
      this.pending.delete(id);
    }
  }

  private async answer(frame: RequestFrameData): Promise<void> {
    const method = frame.method as TunnelMethodName;
    const handler = this.options.handlers[method] as ((params: unknown) => unknown) | undefined;
    const schema = this.options.schemas[method];
    const reply = (body: { ok: true; result: unknown } | { ok: false; error: TunnelErrorData }) => {
      try {
        this.options.send(encodeFrame({ v: TUNNEL_PROTOCOL_VERSION, type: "res", id: frame.id, ...body }));
      } catch {
        // The socket closed while the handler ran; the caller times out or sees the disconnect.
      }
    };
    if (!handler || !schema) {
      reply({ ok: false, error: { code: "unknown-method", message: `unknown method ${frame.method}` } });
      return;
    }
    const params = schema.safeParse(frame.params);
    if (!params.success) {
      reply({ ok: false, error: { code: "invalid-params", message: `invalid parameters for ${frame.method}` } });
      return;
    }
    try {
      const result = await handler(params.data);
      reply({ ok: true, result: result ?? null });
    } catch (error) {
      if (error instanceof RpcError) reply({ ok: false, error: { code: error.code, message: error.message } });
      else reply({ ok: false, error: { code: "internal", message: "internal error" } });
    }
  }
}
