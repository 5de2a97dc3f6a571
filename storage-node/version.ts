/** The node software version reported over the tunnel. */
export const NODE_VERSION = "0.1.0";
