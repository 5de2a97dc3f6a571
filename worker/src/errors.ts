/**
 * The one error type of the edge API and the one place errors become responses.
 *
 * Invariants:
 * - Every error response is JSON `{ "error": { "code", "message" } }` with the right status.
 * - Messages are fixed strings chosen by the code that throws: they never echo input, so no
 *   password, token or address supplied by a caller can end up in a response or a log.
 * - Unexpected errors answer 500 `internal` and are logged by name only (an error message from
 *   a library could quote a value).
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorBodyData {
  error: { code: string; message: string };
}

/** An expected failure with a stable machine-readable code. */
export class ApiError extends HTTPException {
  override name = "ApiError";
  readonly code: string;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(status, { message });
    this.code = code;
  }
}

export function errorBody(code: string, message: string): ErrorBodyData {
  return { error: { code, message } };
}

/** Codes for errors Hono itself raises (malformed JSON and the like). */
function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return "bad-request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 405:
      return "method-not-allowed";
    case 413:
      return "payload-too-large";
    case 415:
      return "unsupported-media-type";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

/** `app.onError` handler. */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message), err.status as ContentfulStatusCode);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const message = status >= 500 ? "Internal error" : err.message || "Request refused";
    return c.json(errorBody(codeForStatus(status), message), status);
  }
  console.error("edge: unhandled error", err.name);
  return c.json(errorBody("internal", "Internal error"), 500);
}

/** `app.notFound` handler: unknown routes answer in the same shape. */
export function handleNotFound(c: Context): Response {
  return c.json(errorBody("not-found", "No such route"), 404);
}
