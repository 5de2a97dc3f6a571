/** Bindings of the edge worker (see wrangler.toml). */
export interface EdgeBindings {
  DB: D1Database;
  BACKUPS: R2Bucket;
  NODE_TUNNEL: DurableObjectNamespace;
  /** Operator token for /v1/admin/* (node registration). */
  ADMIN_TOKEN?: string;
  /**
   * "true" accepts http:// and loopback webhook URLs (local development and tests only;
   * never set in production).
   */
  ALLOW_LOOPBACK_WEBHOOKS?: string;
}

export interface EdgeVariables {
  /** Set by the bearer-token middleware. */
  accountId: string;
}

export interface AppEnv {
  Bindings: EdgeBindings;
  Variables: EdgeVariables;
}
