#!/usr/bin/env node
// The console's page and style sheet beside its compiled modules (`tsc -p tsconfig.console.json`), in
// dist/console: what the gateway serves at /console/.
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist/console", { recursive: true });
for (const file of ["index.html", "console.css"]) copyFileSync(`console/${file}`, `dist/console/${file}`);
