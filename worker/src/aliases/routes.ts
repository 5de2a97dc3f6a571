/** Alias and alias-password routes, mounted at /v1/domains: {domain}/aliases[/{alias}[/passwords[/{id}]]]. */
import { createRoute, z } from "@hono/zod-openapi";
import { accountAuth } from "../accounts/account-auth.ts";
import { DomainParam } from "../domains/routes.ts";
import type { EdgeBindings } from "../env.ts";
import { LOCAL_PART_MAX_LENGTH, PASSWORD_LABEL_MAX_LENGTH, QUOTA_BYTES_MAX, WEBHOOK_URL_MAX_LENGTH } from "../limits.ts";
import { accountSecurity, createApiApp, errorResponses, jsonBody, jsonResponse } from "../openapi.ts";
import { notifyAddressChanged } from "../tunnel/notify.ts";
import type { WebhookUrlOptions } from "./address.ts";
import { createAlias, deleteAlias, getAlias, listAliases, updateAlias } from "./aliases.ts";
import { createAliasPassword, listAliasPasswords, revokeAliasPassword } from "./passwords.ts";

const AliasParam = z.string().min(1).max(LOCAL_PART_MAX_LENGTH).openapi({ description: "Local part", example: "alice" });
const DomainParams = z.object({ domain: DomainParam });
const AliasParams = z.object({ domain: DomainParam, alias: AliasParam });
const PasswordParams = z.object({ domain: DomainParam, alias: AliasParam, id: z.string().min(1).max(64) });

const ForwardTo = z.array(z.string().min(1).max(254)).openapi({ example: ["me@elsewhere.example"] });
const Webhooks = z.array(z.object({ url: z.string().min(1).max(WEBHOOK_URL_MAX_LENGTH) }).strict());
const Quota = z.number().int().min(0).max(QUOTA_BYTES_MAX).nullable();

const WebhookStatusSchema = z
  .object({
    lastSuccessAt: z.string().nullable(),
    lastFailureAt: z.string().nullable(),
    lastFailure: z.string().nullable().openapi({ description: 'Class of the last failure ("HTTP 503", "TimeoutError"); never a body' }),
    abandoned: z.number().int().openapi({ description: "Deliveries the nodes gave up on (permanent refusal or retries past the deadline)" }),
    lastAbandonedAt: z.string().nullable(),
  })
  .openapi("WebhookStatus");

const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    signingKey: z.string().optional().openapi({ description: "HMAC-SHA-256 key, base64; only in the answer that created it" }),
    status: WebhookStatusSchema,
  })
  .openapi("Webhook");

const AliasSchema = z
  .object({
    address: z.string(),
    localPart: z.string(),
    forwardTo: z.array(z.string()),
    webhooks: z.array(WebhookSchema),
    imap: z.boolean(),
    quotaBytes: z.number().int().nullable(),
    mailboxId: z.string(),
    passwordCount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Alias");

const PasswordItemSchema = z
  .object({ id: z.string(), label: z.string(), createdAt: z.string(), lastUsedAt: z.string().nullable() })
  .openapi("AliasPassword");

const CreatedPasswordSchema = z
  .object({ id: z.string(), label: z.string(), password: z.string(), createdAt: z.string(), newMailbox: z.boolean() })
  .openapi("CreatedAliasPassword");

const createAliasRoute = createRoute({
  method: "post",
  path: "/{domain}/aliases",
  summary: "Create an alias",
  security: accountSecurity,
  request: {
    params: DomainParams,
    body: jsonBody(
      z
        .object({
          localPart: AliasParam,
          forwardTo: ForwardTo.optional(),
          webhooks: Webhooks.optional(),
          imap: z.boolean().optional().openapi({ description: "Store mail in an IMAP mailbox (default true)" }),
          quotaBytes: Quota.optional(),
        })
        .strict(),
    ),
  },
  responses: { 201: jsonResponse(AliasSchema, "Created"), ...errorResponses(400, 401, 404, 409) },
});

const listAliasesRoute = createRoute({
  method: "get",
  path: "/{domain}/aliases",
  summary: "List a domain's aliases",
  security: accountSecurity,
  request: { params: DomainParams },
  responses: { 200: jsonResponse(z.object({ aliases: z.array(AliasSchema) }), "Aliases"), ...errorResponses(400, 401, 404) },
});

const getAliasRoute = createRoute({
  method: "get",
  path: "/{domain}/aliases/{alias}",
  summary: "One alias",
  security: accountSecurity,
  request: { params: AliasParams },
  responses: { 200: jsonResponse(AliasSchema, "The alias"), ...errorResponses(400, 401, 404) },
});

const updateAliasRoute = createRoute({
  method: "patch",
  path: "/{domain}/aliases/{alias}",
  summary: "Change an alias's destinations or settings",
  description: "forwardTo and webhooks replace their lists; a webhook URL already listed keeps its id and signing key.",
  security: accountSecurity,
  request: {
    params: AliasParams,
    body: jsonBody(
      z
        .object({ forwardTo: ForwardTo.optional(), webhooks: Webhooks.optional(), imap: z.boolean().optional(), quotaBytes: Quota.optional() })
        .strict(),
    ),
  },
  responses: { 200: jsonResponse(AliasSchema, "Updated"), ...errorResponses(400, 401, 404) },
});

const deleteAliasRoute = createRoute({
  method: "delete",
  path: "/{domain}/aliases/{alias}",
  summary: "Delete an alias",
  security: accountSecurity,
  request: { params: AliasParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 404) },
});

const createPasswordRoute = createRoute({
  method: "post",
  path: "/{domain}/aliases/{alias}/passwords",
  summary: "Generate an alias password",
  description:
    "The first password creates the mailbox key and sealing key pair. A further password needs existingPassword " +
    "(400 existing-password-required when missing, 403 existing-password-invalid when it matches no active password). " +
    "The password is returned only in this answer.",
  security: accountSecurity,
  request: {
    params: AliasParams,
    body: jsonBody(
      z
        .object({
          label: z.string().trim().min(1).max(PASSWORD_LABEL_MAX_LENGTH).openapi({ example: "laptop" }),
          existingPassword: z.string().min(1).max(256).optional(),
        })
        .strict(),
    ),
  },
  responses: { 201: jsonResponse(CreatedPasswordSchema, "Created"), ...errorResponses(400, 401, 403, 404, 409) },
});

const listPasswordsRoute = createRoute({
  method: "get",
  path: "/{domain}/aliases/{alias}/passwords",
  summary: "List an alias's active passwords (never the secrets)",
  security: accountSecurity,
  request: { params: AliasParams },
  responses: {
    200: jsonResponse(z.object({ passwords: z.array(PasswordItemSchema) }), "Passwords"),
    ...errorResponses(400, 401, 404),
  },
});

const revokePasswordRoute = createRoute({
  method: "delete",
  path: "/{domain}/aliases/{alias}/passwords/{id}",
  summary: "Revoke one alias password",
  security: accountSecurity,
  request: { params: PasswordParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses(400, 401, 404) },
});

function urlOptions(env: EdgeBindings): WebhookUrlOptions {
  return { allowLoopback: env.ALLOW_LOOPBACK_WEBHOOKS === "true" };
}

export function createAliasesApp() {
  const app = createApiApp();
  app.use("/:domain/aliases", accountAuth);
  app.use("/:domain/aliases/*", accountAuth);

  app.openapi(createAliasRoute, async (c) => {
    const { domain } = c.req.valid("param");
    const alias = await createAlias(c.env.DB, c.var.accountId, domain, c.req.valid("json"), urlOptions(c.env));
    await notifyAddressChanged(c.env, alias.address);
    return c.json(alias, 201);
  });
  app.openapi(listAliasesRoute, async (c) =>
    c.json({ aliases: await listAliases(c.env.DB, c.var.accountId, c.req.valid("param").domain) }, 200),
  );
  app.openapi(getAliasRoute, async (c) => {
    const { domain, alias } = c.req.valid("param");
    return c.json(await getAlias(c.env.DB, c.var.accountId, domain, alias), 200);
  });
  app.openapi(updateAliasRoute, async (c) => {
    const { domain, alias } = c.req.valid("param");
    const updated = await updateAlias(c.env.DB, c.var.accountId, domain, alias, c.req.valid("json"), urlOptions(c.env));
    await notifyAddressChanged(c.env, updated.address);
    return c.json(updated, 200);
  });
  app.openapi(deleteAliasRoute, async (c) => {
    const { domain, alias } = c.req.valid("param");
    const address = await deleteAlias(c.env.DB, c.var.accountId, domain, alias);
    await notifyAddressChanged(c.env, address);
    return c.body(null, 204);
  });

  app.openapi(createPasswordRoute, async (c) => {
    const { domain, alias } = c.req.valid("param");
    const created = await createAliasPassword(c.env.DB, c.var.accountId, domain, alias, c.req.valid("json"));
    await notifyAddressChanged(c.env, created.address);
    return c.json(created.password, 201);
  });
  app.openapi(listPasswordsRoute, async (c) => {
    const { domain, alias } = c.req.valid("param");
    return c.json({ passwords: await listAliasPasswords(c.env.DB, c.var.accountId, domain, alias) }, 200);
  });
  app.openapi(revokePasswordRoute, async (c) => {
    const { domain, alias, id } = c.req.valid("param");
    const address = await revokeAliasPassword(c.env.DB, c.var.accountId, domain, alias, id);
    await notifyAddressChanged(c.env, address);
    return c.body(null, 204);
  });
  return app;
}
