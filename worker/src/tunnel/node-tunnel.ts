import { DurableObject } from "cloudflare:workers";
import type { EdgeBindings } from "../env.ts";

export class NodeTunnel extends DurableObject<EdgeBindings> {}
