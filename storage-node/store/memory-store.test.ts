import { createMemoryStore } from "./memory-store.ts";
import { describeMailStoreConformance } from "./conformance.ts";

describeMailStoreConformance("memory", () => createMemoryStore());
