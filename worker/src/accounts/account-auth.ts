/** The bearer-token middleware for account routes, bound to the edge's token store. */
import type { AppEnv } from "../env.ts";
import { bearerAuth } from "../middleware/bearer-auth.ts";
import { verifyApiToken } from "./api-tokens.ts";

export const accountAuth = bearerAuth<AppEnv>({ verify: (token, c) => verifyApiToken(c.env.DB, token) });
