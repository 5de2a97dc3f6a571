/** Domain routes, mounted at /v1/domains. */
import { createRoute, z } from "@hono/zod-openapi";
import { accountAuth } from "../accounts/account-auth.ts";
import { notifyAddressChanged } from "../tunnel/notify.ts";
import { DOMAIN_MAX_LENGTH } from "../limits.ts";
import { accountSecurity, createApiApp, errorResponses, jsonBody, jsonResponse } from "../openapi.ts";
import { claimDomain, deleteDomain, getDomain, listDomains } from "./domains.ts";

export const DomainParam = z.string().min(1).max(DOMAIN_MAX_LENGTH).openapi({ example: "example.org" });

const DomainSchema = z
  .object({ name: z.string(), aliasCount: z.number().int(), createdAt: z.string() })
  .openapi("Domain");

const claimDomainRoute = createRoute({
  method: "post",
  path: "/",
  summary: "Add a domain",
  description:
    "409 domain-unavailable when the name is already held — by this account or another; the answer is the same either way.",
  security: accountSecurity,
  request: { body: jsonBody(z.object({ name: DomainParam })) },
  responses: { 201: jsonResponse(DomainSchema, "Added"), ...errorResponses(400, 401, 409) },
});

const listDomainsRoute = createRoute({
  method: "get",
  path: "/",
  summary: "List the account's domains",
  security: accountSecurity,
  responses: { 200: jsonResponse(z.object({ domains: z.array(DomainSchema) }), "Domains"), ...errorResponses(401) },
});

const getDomainRoute = createRoute({
  method: "get",
  path: "/{domain}",
  summary: "One domain",
  security: accountSecurity,
  request: { params: z.object({ domain: DomainParam }) },
  responses: { 200: jsonResponse(DomainSchema, "The domain"), ...errorResponses(400, 401, 404) },
});

const deleteDomainRoute = createRoute({
  method: "delete",
  path: "/{domain}",
  summary: "Delete a domain with all its aliases",
  security: accountSecurity,
  request: { params: z.object({ domain: DomainParam }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 404) },
});

export function createDomainsApp() {
  const app = createApiApp();
  app.use("/", accountAuth);
  app.use("/:domain", accountAuth);
  app.openapi(claimDomainRoute, async (c) => c.json(await claimDomain(c.env.DB, c.var.accountId, c.req.valid("json").name), 201));
  app.openapi(listDomainsRoute, async (c) => c.json({ domains: await listDomains(c.env.DB, c.var.accountId) }, 200));
  app.openapi(getDomainRoute, async (c) => c.json(await getDomain(c.env.DB, c.var.accountId, c.req.valid("param").domain), 200));
  app.openapi(deleteDomainRoute, async (c) => {
    const removed = await deleteDomain(c.env.DB, c.var.accountId, c.req.valid("param").domain);
    await Promise.all(removed.map((address) => notifyAddressChanged(c.env, address)));
    return c.body(null, 204);
  });
  return app;
}
