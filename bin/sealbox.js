#!/usr/bin/env node
// The `sealbox` admin command. Loads the TypeScript CLI through tsx.
import { register } from "tsx/esm/api";

register();
await import("../cli/sealbox.ts");
