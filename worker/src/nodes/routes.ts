/** Operator routes for the node registry: /v1/admin/nodes. Authorised by ADMIN_TOKEN. */
import { createRoute, z } from "@hono/zod-openapi";
import { adminAuth } from "../middleware/admin-auth.ts";
import { NODE_LABEL_MAX_LENGTH } from "../limits.ts";
import { adminSecurity, createApiApp, errorResponses, jsonBody, jsonResponse } from "../openapi.ts";
import type { AppEnv } from "../env.ts";
import { deleteNode, listNodes, registerNode } from "./nodes.ts";

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
  return app;
}
