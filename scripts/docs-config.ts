// Writes docs/config.md from the configuration schema.
import { writeFileSync } from "node:fs";
import { configReference } from "../src/config/reference.js";

writeFileSync(new URL("../docs/config.md", import.meta.url), configReference());
