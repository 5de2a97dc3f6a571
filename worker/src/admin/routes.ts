/**
 * Operator routes, mounted at /v1/admin, authorised by ADMIN_TOKEN: the node registry, and
 * directory inspection (what a node would receive over the tunnel). The inspection routes hand
 * out wrapped mailbox keys, never anything that opens a mailbox without a password; an operator
 * could get the same by registering a node, and no account route ever returns them.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { lookupCredentials, resolveAlias } from "../directory.ts";
import { ApiError } from "../errors.ts";
import { adminAuth } from "../middleware/admin-auth.ts";
import { NODE_LABEL_MAX_LENGTH } from "../limits.ts";
import { adminSecurity, createApiApp, errorResponses, jsonBody, jsonResponse } from "../openapi.ts";
import type { AppEnv } from "../env.ts";
import { deleteNode, listNodes, registerNode } from "../nodes/nodes.ts";

const NodeSchema = z
  .object({
    id: z.string(),
    label: z.string(),
    publicKey: z.string(),
    createdAt: z.string(),
    lastSeenAt: z.string().nullable(),
  })
  .openapi("Node");

const NodeIdParams = z.object({ id: z.string().min(1).max(64) });

const registerNodeRoute = createRoute({
  method: "post",
  path: "/nodes",
  summary: "Register a storage node",
  security: adminSecurity,
  request: {
    body: jsonBody(
      z.object({
        label: z.string().trim().min(1).max(NODE_LABEL_MAX_LENGTH),
        publicKey: z.string().min(1).max(128).openapi({ description: "Ed25519 public key, base64" }),
      }),
    ),
  },
  responses: {
    201: jsonResponse(z.object({ id: z.string() }), "Registered"),
    ...errorResponses(400, 401),
  },
});

const listNodesRoute = createRoute({
  method: "get",
  path: "/nodes",
  summary: "List storage nodes",
  security: adminSecurity,
  responses: {
    200: jsonResponse(z.object({ nodes: z.array(NodeSchema) }), "Registered nodes"),
    ...errorResponses(401),
  },
});

const deleteNodeRoute = createRoute({
  method: "delete",
  path: "/nodes/{id}",
  summary: "Delete a storage node",
  security: adminSecurity,
  request: { params: NodeIdParams },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses(401, 404, 409),
  },
});

const Address = z.string().min(3).max(254).openapi({ example: "alice@example.org" });

const PasswordCredentialSchema = z.object({ id: z.string(), salt: z.string(), wrappedKey: z.string() });
const CredentialRecordSchema = z
  .object({
    address: z.string(),
    aliasId: z.string(),
    mailboxId: z.string(),
    homeNode: z.string().nullable(),
    imap: z.boolean(),
    quotaBytes: z.number().int().nullable(),
    generation: z.number().int(),
    sealingPublicKey: z.string(),
    sealingSecretWrapped: z.string(),
    passwords: z.array(PasswordCredentialSchema),
  })
  .openapi("CredentialRecord");

const AliasRouteSchema = z
  .object({
    address: z.string(),
    aliasId: z.string(),
    mailboxId: z.string().nullable(),
    homeNode: z.string().nullable(),
    imap: z.boolean(),
    quotaBytes: z.number().int().nullable(),
    sealingPublicKey: z.string().nullable(),
    forwardTo: z.array(z.string()),
    webhooks: z.array(z.object({ id: z.string(), url: z.string(), signingKey: z.string() })),
  })
  .openapi("AliasRoute");

const lookupCredentialsRoute = createRoute({
  method: "post",
  path: "/directory/credentials",
  summary: "The credential record a node receives for an address (places the mailbox on nodeId if unplaced)",
  security: adminSecurity,
  request: { body: jsonBody(z.object({ address: Address, nodeId: z.string().min(1).max(64) })) },
  responses: { 200: jsonResponse(CredentialRecordSchema, "The record"), ...errorResponses(400, 401, 404) },
});

const resolveAliasRoute = createRoute({
  method: "post",
  path: "/directory/route",
  summary: "How the MX routes mail for an address",
  security: adminSecurity,
  request: { body: jsonBody(z.object({ address: Address })) },
  responses: { 200: jsonResponse(AliasRouteSchema, "The route"), ...errorResponses(400, 401, 404) },
});

function notInDirectory(): ApiError {
  return new ApiError(404, "address-not-found", "No such address");
}

export function createAdminApp() {
  const app = createApiApp();
  app.use("*", adminAuth<AppEnv>({ adminToken: (c) => c.env.ADMIN_TOKEN }));
  app.openapi(registerNodeRoute, async (c) => {
    const body = c.req.valid("json");
    return c.json(await registerNode(c.env.DB, body), 201);
  });
  app.openapi(listNodesRoute, async (c) => c.json({ nodes: await listNodes(c.env.DB) }, 200));
  app.openapi(deleteNodeRoute, async (c) => {
    await deleteNode(c.env.DB, c.req.valid("param").id);
    return c.body(null, 204);
  });
  app.openapi(lookupCredentialsRoute, async (c) => {
    const { address, nodeId } = c.req.valid("json");
    const record = await lookupCredentials(c.env.DB, address, nodeId);
    if (record === null) throw notInDirectory();
    return c.json(record, 200);
  });
  app.openapi(resolveAliasRoute, async (c) => {
    const route = await resolveAlias(c.env.DB, c.req.valid("json").address);
    if (route === null) throw notInDirectory();
    return c.json(route, 200);
  });
  return app;
}
