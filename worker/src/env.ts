/** Bindings of the edge worker (see wrangler.toml). */
export interface EdgeBindings {
  DB: D1Database;
  BACKUPS: R2Bucket;
  NODE_TUNNEL: DurableObjectNamespace;
  /** Operator token for /v1/admin/* (node registration). */
  ADMIN_TOKEN?: string;
}

export interface EdgeVariables {
  /** Set by the bearer-token middleware. */
  accountId: string;
}

export interface AppEnv {
  Bindings: EdgeBindings;
  Variables: EdgeVariables;
}
