import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isGeneratedPassword } from "../../shared/crypto/password.ts";
import { isApiToken } from "../../shared/crypto/tokens.ts";
import { totpCode } from "../../shared/crypto/totp.ts";
import { startEdge, type EdgeHandle } from "../support/edge.ts";
import { api, createAccount, fetchLimits, type ApiLimits, type ErrorBody, type TestAccount } from "./client.ts";

let edge: EdgeHandle;
let limits: ApiLimits;

beforeAll(async () => {
  edge = await startEdge();
  limits = await fetchLimits(edge);
});
afterAll(async () => {
  await edge?.stop();
  if (edge) await rm(edge.persistDir, { recursive: true, force: true });
});

interface AccountBody {
  id: string;
  email: string;
  totpEnabled: boolean;
}

async function login(body: unknown) {
  return api<{ apiToken: string } & ErrorBody>(edge, "POST", "/v1/auth/login", { body });
}

/** The code for the time step `stepOffset` steps from now. */
function codeAt(secret: string, stepOffset: number): string {
  return totpCode(secret, Date.now() + stepOffset * 30_000);
}

describe("accounts", () => {
  it("creates an account with a one-time API token and generated password", async () => {
    const res = await api<TestAccount>(edge, "POST", "/v1/accounts", { body: { email: "New.Person@Example.org" } });
    expect(res.status).toBe(201);
    expect(res.body.email).toBe("new.person@example.org");
    expect(isApiToken(res.body.apiToken)).toBe(true);
    expect(isGeneratedPassword(res.body.password)).toBe(true);

    const me = await api<AccountBody>(edge, "GET", "/v1/account", { token: res.body.apiToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: res.body.accountId, email: "new.person@example.org", totpEnabled: false });
    expect(JSON.stringify(me.body)).not.toContain(res.body.password);
  });

  it("refuses a second account for the same e-mail (any case) with 409", async () => {
    const first = await createAccount(edge);
    const again = await api<ErrorBody>(edge, "POST", "/v1/accounts", { body: { email: first.email.toUpperCase() } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("email-unavailable");
  });

  it("validates the sign-up body with 400", async () => {
    for (const body of [{}, { email: "not-an-email" }, { email: 42 }, { email: `${"a".repeat(250)}@x.example` }]) {
      const res = await api<ErrorBody>(edge, "POST", "/v1/accounts", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid-request");
    }
  });

  it("answers 401 on /v1/account without a token, with a malformed one and with an unknown one", async () => {
    for (const token of [undefined, "nope", "sbx_" + "d".repeat(52)]) {
      const res = await api<ErrorBody>(edge, "GET", "/v1/account", { token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
    }
  });

  it("logs in with e-mail and password, issuing a new working token", async () => {
    const account = await createAccount(edge);
    const res = await login({ email: account.email, password: account.password });
    expect(res.status).toBe(200);
    expect(res.body.apiToken).not.toBe(account.apiToken);
    expect((await api(edge, "GET", "/v1/account", { token: res.body.apiToken })).status).toBe(200);
    // The first token still works too.
    expect((await api(edge, "GET", "/v1/account", { token: account.apiToken })).status).toBe(200);
  });

  it("answers a wrong password and an unknown e-mail identically", async () => {
    const account = await createAccount(edge);
    const wrong = await login({ email: account.email, password: "wrong-password" });
    const unknown = await login({ email: "nobody-here@example.org", password: "wrong-password" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error.code).toBe("invalid-credentials");
    const invalid = await login({ email: account.email });
    expect(invalid.status).toBe(400);
  });

  it("locks a login name after the maximum number of failures, even for the right password; a success before that resets the count", async () => {
    const account = await createAccount(edge);
    for (let i = 0; i < limits.loginMaxFailures - 1; i++) expect((await login({ email: account.email, password: "bad" })).status).toBe(401);
    expect((await login({ email: account.email, password: account.password })).status).toBe(200);

    for (let i = 0; i < limits.loginMaxFailures; i++) expect((await login({ email: account.email, password: "bad" })).status).toBe(401);
    const locked = await login({ email: account.email, password: account.password });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe("too-many-attempts");

    // Unknown names are throttled the same way, so the lock says nothing about existence.
    const ghost = "ghost-user@example.org";
    for (let i = 0; i < limits.loginMaxFailures; i++) expect((await login({ email: ghost, password: "bad" })).status).toBe(401);
    expect((await login({ email: ghost, password: "bad" })).status).toBe(429);
  });

  it("enrols TOTP (pending until verified), then requires a fresh code to log in", async () => {
    const account = await createAccount(edge);
    const token = account.apiToken;

    const started = await api<{ secret: string; uri: string }>(edge, "POST", "/v1/account/totp", { token });
    expect(started.status).toBe(200);
    expect(started.body.uri).toMatch(/^otpauth:\/\/totp\//);
    expect(started.body.uri).toContain(`secret=${started.body.secret}`);
    const secret = started.body.secret;

    // Pending: login still needs only the password.
    expect((await login({ email: account.email, password: account.password })).status).toBe(200);
    expect((await api<AccountBody>(edge, "GET", "/v1/account", { token })).body.totpEnabled).toBe(false);

    const badVerify = await api<ErrorBody>(edge, "POST", "/v1/account/totp/verify", { token, body: { code: codeAt(secret, 10) } });
    expect(badVerify.status).toBe(400);
    expect(badVerify.body.error.code).toBe("invalid-totp-code");
    const malformed = await api<ErrorBody>(edge, "POST", "/v1/account/totp/verify", { token, body: { code: "12ab56" } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("invalid-request");

    // Codes are chosen so that a 30 s step boundary passing mid-test cannot change the outcome:
    // the server accepts one step either side of its clock and never a step twice.
    const verified = await api(edge, "POST", "/v1/account/totp/verify", { token, body: { code: codeAt(secret, 0) } });
    expect(verified.status).toBe(200);
    expect((await api<AccountBody>(edge, "GET", "/v1/account", { token })).body.totpEnabled).toBe(true);
    expect((await api<ErrorBody>(edge, "POST", "/v1/account/totp", { token })).status).toBe(409);

    const noCode = await login({ email: account.email, password: account.password });
    expect(noCode.status).toBe(401);
    expect(noCode.body.error.code).toBe("totp-required");
    const wrongCode = await login({ email: account.email, password: account.password, totpCode: codeAt(secret, 10) });
    expect(wrongCode.status).toBe(401);
    expect(wrongCode.body.error.code).toBe("invalid-credentials");
    // A wrong password with a right code is refused, and says nothing about the code.
    const wrongPassword = await login({ email: account.email, password: "bad", totpCode: codeAt(secret, 1) });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.error.code).toBe("invalid-credentials");

    const nextCode = codeAt(secret, 1);
    const ok = await login({ email: account.email, password: account.password, totpCode: nextCode });
    expect(ok.status).toBe(200);
    // The same code is not accepted twice, nor the code of the step used to enrol.
    const replayed = await login({ email: account.email, password: account.password, totpCode: nextCode });
    expect(replayed.status).toBe(401);
    expect(replayed.body.error.code).toBe("invalid-credentials");
    expect((await login({ email: account.email, password: account.password, totpCode: codeAt(secret, 0) })).status).toBe(401);
  });

  it("disables TOTP only with a valid code", async () => {
    const account = await createAccount(edge);
    const token = account.apiToken;
    const secret = (await api<{ secret: string }>(edge, "POST", "/v1/account/totp", { token })).body.secret;
    expect((await api(edge, "POST", "/v1/account/totp/verify", { token, body: { code: codeAt(secret, 0) } })).status).toBe(200);

    const disableBad = await api<ErrorBody>(edge, "DELETE", "/v1/account/totp", { token, body: { code: codeAt(secret, 10) } });
    expect(disableBad.status).toBe(400);
    expect(disableBad.body.error.code).toBe("invalid-totp-code");
    const noCode = await api<ErrorBody>(edge, "DELETE", "/v1/account/totp", { token, body: {} });
    expect(noCode.status).toBe(400);
    expect((await login({ email: account.email, password: account.password })).body.error.code).toBe("totp-required");

    const disabled = await api(edge, "DELETE", "/v1/account/totp", { token, body: { code: codeAt(secret, 1) } });
    expect(disabled.status).toBe(200);
    expect((await api<AccountBody>(edge, "GET", "/v1/account", { token })).body.totpEnabled).toBe(false);
    expect((await login({ email: account.email, password: account.password })).status).toBe(200);
    const notEnabled = await api<ErrorBody>(edge, "DELETE", "/v1/account/totp", { token, body: { code: codeAt(secret, 1) } });
    expect(notEnabled.status).toBe(409);
    expect(notEnabled.body.error.code).toBe("totp-not-enabled");
  });

  it("refuses TOTP verification without a pending enrolment, and every TOTP route without a token", async () => {
    const account = await createAccount(edge);
    const res = await api<ErrorBody>(edge, "POST", "/v1/account/totp/verify", { token: account.apiToken, body: { code: "123456" } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("totp-not-pending");
    for (const [method, path, body] of [
      ["POST", "/v1/account/totp", undefined],
      ["POST", "/v1/account/totp/verify", { code: "123456" }],
      ["DELETE", "/v1/account/totp", { code: "123456" }],
    ] as const) {
      expect((await api(edge, method, path, { body })).status).toBe(401);
    }
  });
});
