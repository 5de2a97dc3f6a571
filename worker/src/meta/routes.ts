/**
 * Public facts about the API, mounted at /v1: the limits it enforces, so clients (dashboard,
 * CLI) can check input before sending it. Every value comes from limits.ts, the same constants
 * the handlers enforce.
 */
import { createRoute, z } from "@hono/zod-openapi";
import * as limits from "../limits.ts";
import { createApiApp, jsonResponse } from "../openapi.ts";

const LimitsSchema = z
  .object({
    loginMaxFailures: z.number().int(),
    loginFailureWindowMs: z.number().int(),
    loginLockMs: z.number().int(),
    domainsPerAccount: z.number().int(),
    aliasesPerDomain: z.number().int(),
    forwardsPerAlias: z.number().int(),
    webhooksPerAlias: z.number().int(),
    webhookUrlMaxLength: z.number().int(),
    passwordsPerAlias: z.number().int(),
    passwordLabelMaxLength: z.number().int(),
    localPartMaxLength: z.number().int(),
    domainMaxLength: z.number().int(),
    quotaBytesMax: z.number().int(),
    nodeLabelMaxLength: z.number().int(),
  })
  .openapi("Limits");

export type LimitsData = z.infer<typeof LimitsSchema>;

export function apiLimits(): LimitsData {
  return {
    loginMaxFailures: limits.LOGIN_MAX_FAILURES,
    loginFailureWindowMs: limits.LOGIN_FAILURE_WINDOW_MS,
    loginLockMs: limits.LOGIN_LOCK_MS,
    domainsPerAccount: limits.DOMAINS_PER_ACCOUNT_MAX,
    aliasesPerDomain: limits.ALIASES_PER_DOMAIN_MAX,
    forwardsPerAlias: limits.FORWARDS_PER_ALIAS_MAX,
    webhooksPerAlias: limits.WEBHOOKS_PER_ALIAS_MAX,
    webhookUrlMaxLength: limits.WEBHOOK_URL_MAX_LENGTH,
    passwordsPerAlias: limits.PASSWORDS_PER_ALIAS_MAX,
    passwordLabelMaxLength: limits.PASSWORD_LABEL_MAX_LENGTH,
    localPartMaxLength: limits.LOCAL_PART_MAX_LENGTH,
    domainMaxLength: limits.DOMAIN_MAX_LENGTH,
    quotaBytesMax: limits.QUOTA_BYTES_MAX,
    nodeLabelMaxLength: limits.NODE_LABEL_MAX_LENGTH,
  };
}

const limitsRoute = createRoute({
  method: "get",
  path: "/limits",
  summary: "The limits the API enforces",
  responses: { 200: jsonResponse(LimitsSchema, "Limits") },
});

export function createMetaApp() {
  const app = createApiApp();
  app.openapi(limitsRoute, (c) => c.json(apiLimits(), 200));
  return app;
}
