import { z } from "zod";
import { configSchema } from "./schema.js";

interface JsonSchema {
  title?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

function typeOf(s: JsonSchema): string {
  if (s.title) return s.title;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf))].join(" or ");
  if (s.type === "array") return `list of ${typeOf(s.items ?? {})}`;
  return Array.isArray(s.type) ? s.type.join(" or ") : (s.type ?? "any");
}

function rows(schema: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${key}`;
    if (prop.properties) {
      rows(prop, `${path}.`, out);
      continue;
    }
    if (prop.additionalProperties && typeof prop.additionalProperties === "object") {
      out.push(`| \`${path}\` | mapping | | ${prop.description ?? ""} |`);
      rows(prop.additionalProperties, `${path}.NAME.`, out);
      continue;
    }
    const def = prop.default === undefined ? "" : `\`${JSON.stringify(prop.default)}\``;
    out.push(`| \`${path}\` | ${typeOf(prop)} | ${def} | ${prop.description ?? ""} |`);
  }
}

/** The configuration reference in Markdown, generated from the schema (`docs/config.md`). */
export function configReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const out = [
    "# Configuration reference",
    "",
    "Generated from `src/config/schema.ts` by `npm run docs:config`; a test fails when this file is stale.",
    "",
    "Give a YAML file with `switchyard serve --config FILE`; `--listen`, `--upstream NAME=URL[,URL...]` and",
    "`--log-level` override it. Durations are milliseconds or strings such as `500ms`, `15s`, `2m`, `1h`;",
    "sizes are bytes or strings such as `64KiB`, `4MiB`. Unknown keys are refused at start.",
    "",
    "| key | type | default | meaning |",
    "| --- | --- | --- | --- |",
  ];
  rows(schema, "", out);
  return `${out.join("\n")}\n`;
}
