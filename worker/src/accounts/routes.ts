/**
 * Account routes: sign-up, login, the account itself and its TOTP second factor.
 * `POST /v1/accounts` and `POST /v1/auth/login` are public; `/v1/account/*` needs a token.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { EMAIL_MAX_LENGTH } from "../limits.ts";
import { accountSecurity, createApiApp, errorResponses, jsonBody, jsonResponse } from "../openapi.ts";
import { accountAuth } from "./account-auth.ts";
import { createAccount, getAccount, login } from "./accounts.ts";
import { confirmTotpEnrolment, disableTotp, startTotpEnrolment } from "./totp.ts";

const Email = z.email().max(EMAIL_MAX_LENGTH).openapi({ example: "owner@example.org" });
const TotpCode = z.string().regex(/^[0-9]{6}$/, "must be 6 digits").openapi({ example: "123456" });

const AccountSchema = z
  .object({ id: z.string(), email: z.string(), totpEnabled: z.boolean(), createdAt: z.string() })
  .openapi("Account");

const createAccountRoute = createRoute({
  method: "post",
  path: "/accounts",
  summary: "Create an account",
  description: "Returns an API token and a generated account password. Both are shown only this once.",
  request: { body: jsonBody(z.object({ email: Email })) },
  responses: {
    201: jsonResponse(
      z.object({ accountId: z.string(), email: z.string(), apiToken: z.string(), password: z.string() }).openapi("CreatedAccount"),
      "Created",
    ),
    ...errorResponses(400, 409),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/auth/login",
  summary: "Log in with e-mail, password and (when enrolled) a TOTP code",
  request: {
    body: jsonBody(z.object({ email: Email, password: z.string().min(1).max(256), totpCode: TotpCode.optional() })),
  },
  responses: {
    200: jsonResponse(z.object({ apiToken: z.string() }), "A new API token"),
    ...errorResponses(400, 401, 429),
  },
});

const getAccountRoute = createRoute({
  method: "get",
  path: "/account",
  summary: "The authenticated account",
  security: accountSecurity,
  responses: { 200: jsonResponse(AccountSchema, "The account"), ...errorResponses(401) },
});

const startTotpRoute = createRoute({
  method: "post",
  path: "/account/totp",
  summary: "Start TOTP enrolment",
  description: "Returns a pending secret and its otpauth URI; confirm with POST /v1/account/totp/verify.",
  security: accountSecurity,
  responses: {
    200: jsonResponse(z.object({ secret: z.string(), uri: z.string() }), "Pending secret"),
    ...errorResponses(401, 409),
  },
});

const verifyTotpRoute = createRoute({
  method: "post",
  path: "/account/totp/verify",
  summary: "Activate TOTP with a code from the pending secret",
  security: accountSecurity,
  request: { body: jsonBody(z.object({ code: TotpCode })) },
  responses: {
    200: jsonResponse(z.object({ totpEnabled: z.literal(true) }), "Enabled"),
    ...errorResponses(400, 401, 409, 429),
  },
});

const disableTotpRoute = createRoute({
  method: "delete",
  path: "/account/totp",
  summary: "Disable TOTP (requires a current code)",
  security: accountSecurity,
  request: { body: jsonBody(z.object({ code: TotpCode })) },
  responses: {
    200: jsonResponse(z.object({ totpEnabled: z.literal(false) }), "Disabled"),
    ...errorResponses(400, 401, 409, 429),
  },
});

export function createAccountsApp() {
  const app = createApiApp();
  app.use("/account", accountAuth);
  app.use("/account/*", accountAuth);

  app.openapi(createAccountRoute, async (c) => c.json(await createAccount(c.env.DB, c.req.valid("json")), 201));
  app.openapi(loginRoute, async (c) => c.json({ apiToken: await login(c.env.DB, c.req.valid("json")) }, 200));
  app.openapi(getAccountRoute, async (c) => c.json(await getAccount(c.env.DB, c.var.accountId), 200));
  app.openapi(startTotpRoute, async (c) => c.json(await startTotpEnrolment(c.env.DB, c.var.accountId), 200));
  app.openapi(verifyTotpRoute, async (c) => {
    await confirmTotpEnrolment(c.env.DB, c.var.accountId, c.req.valid("json").code);
    return c.json({ totpEnabled: true as const }, 200);
  });
  app.openapi(disableTotpRoute, async (c) => {
    await disableTotp(c.env.DB, c.var.accountId, c.req.valid("json").code);
    return c.json({ totpEnabled: false as const }, 200);
  });
  return app;
}
