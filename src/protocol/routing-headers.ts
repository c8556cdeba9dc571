import { H } from "./headers.js";
import { META, metaOf, type RpcMessage } from "./jsonrpc.js";

/**
 * The modern protocol's routing headers (2026-07-28) repeat what the body says so that intermediaries
 * can act without parsing it. Before the gateway acts on them (routes by `Mcp-Name`, answers from its
 * cache), it checks them against the body: a client must not get, from the gateway, what the server
 * would have refused. Pure.
 */

type Headers = Record<string, string | string[] | undefined>;

/** Methods whose target is named by `Mcp-Name`, and the param that holds it. */
export const NAMED: Record<string, "name" | "uri"> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

/** Base64 as a header's `=?base64?…?=` form must carry it: padded, nothing else. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A header value as sent: plain (surrounding spaces are not part of it), or `=?base64?…?=` for values
 * that are not plain ASCII; undefined when that form holds no valid (padded) base64 of UTF-8 text.
 */
export function decodeHeaderValue(value: string): string | undefined {
  const m = /^=\?base64\?(.*)\?=$/is.exec(value.trim());
  if (!m) return value.trim();
  const payload = m[1] as string;
  if (!BASE64.test(payload)) return undefined;
  const bytes = Buffer.from(payload, "base64");
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes) ? text : undefined;
}

/**
 * A value as a modern request sends it in a header: as it is when it is plain visible ASCII (tabs and
 * inner spaces allowed) without surrounding spaces, else `=?base64?…?=` (so is a value that looks encoded).
 */
export function encodeHeaderValue(value: string): string {
  const plain =
    value.length > 0 && value.trim() === value && /^[\t\x20-\x7e]*$/.test(value) && !/^=\?base64\?.*\?=$/i.test(value);
  return plain ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/**
 * The `Mcp-Param-*` headers a modern `tools/call` must carry: each argument whose property in the tool's
 * input schema (reached through `properties` alone) declares `x-mcp-header: NAME` and whose value is a
 * string, a finite number or a boolean → `[mcp-param-NAME, value]`.
 */
export function paramHeaders(inputSchema: unknown, args: unknown): string[] {
  const out: string[] = [];
  const visit = (schema: unknown, value: unknown) => {
    if (schema === null || typeof schema !== "object" || value === null || typeof value !== "object") return;
    const properties = (schema as { properties?: unknown }).properties;
    if (properties === null || typeof properties !== "object") return;
    for (const [key, sub] of Object.entries(properties as Record<string, unknown>)) {
      const v = (value as Record<string, unknown>)[key];
      const header =
        sub !== null && typeof sub === "object" ? (sub as Record<string, unknown>)["x-mcp-header"] : undefined;
      if (typeof header === "string" && header !== "") {
        const text =
          typeof v === "string"
            ? v
            : typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))
              ? String(v)
              : undefined;
        if (text !== undefined) out.push(`mcp-param-${header.toLowerCase()}`, encodeHeaderValue(text));
      } else {
        visit(sub, v);
      }
    }
  };
  visit(inputSchema, args);
  return out;
}

/**
 * Why a modern `tools/call`'s `Mcp-Param-*` headers disagree with its arguments, for the arguments the
 * tool's schema maps to headers: a value sent without its header, a header without (or unlike) its
 * value, a header whose encoded form is not valid. Undefined when they agree.
 */
export function paramHeaderMismatch(inputSchema: unknown, args: unknown, headers: Headers): string | undefined {
  const expected = paramHeaders(inputSchema, args);
  const declared = new Set<string>();
  const collect = (schema: unknown) => {
    const properties = (schema as { properties?: unknown } | null)?.properties;
    if (properties === null || typeof properties !== "object") return;
    for (const sub of Object.values(properties as Record<string, unknown>)) {
      const header = (sub as Record<string, unknown> | null)?.["x-mcp-header"];
      if (typeof header === "string" && header !== "") declared.add(`mcp-param-${header.toLowerCase()}`);
      else collect(sub);
    }
  };
  collect(inputSchema);
  for (let i = 0; i < expected.length; i += 2) {
    const name = expected[i] as string;
    const sent = single(headers[name]);
    if (sent === undefined) return `${name} is missing`;
    const decoded = decodeHeaderValue(sent);
    if (decoded === undefined) return `${name} is not a valid header value`;
    if (decoded !== decodeHeaderValue(expected[i + 1] as string)) return `${name} does not match the arguments`;
    declared.delete(name);
  }
  for (const name of declared) if (headers[name] !== undefined) return `${name} names no argument that was sent`;
  return undefined;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

/**
 * Whether the body carries the modern envelope (a protocol version in `_meta`). Without it the request
 * is malformed in a way the server answers itself (-32602): the gateway does not act on it.
 */
export function hasEnvelope(message: RpcMessage): boolean {
  return typeof metaOf(message, META.protocolVersion) === "string";
}

/** The name the body gives the call's target (`params.name`, or `params.uri` for resources/read). */
export function targetName(message: RpcMessage): string | undefined {
  const field = message.method === undefined ? undefined : NAMED[message.method];
  const value = field === undefined ? undefined : message.params?.[field];
  return typeof value === "string" ? value : undefined;
}

/**
 * Why the routing headers disagree with the body, or undefined when they agree. Headers that are sent
 * must match: `MCP-Protocol-Version` the version in `_meta`, `Mcp-Method` the method, `Mcp-Name` the
 * target (decoded from its `=?base64?…?=` form). The first two are required, `Mcp-Name` for the
 * methods that name a target. `Mcp-Param-*` are the server's to check: the gateway never acts on them.
 */
export function routingHeaderMismatch(headers: Headers, message: RpcMessage): string | undefined {
  const bodyVersion = metaOf(message, META.protocolVersion);
  const version = headers[H.protocolVersion];
  if (version === undefined) return "MCP-Protocol-Version is missing";
  if (typeof bodyVersion !== "string" || single(version) !== bodyVersion) {
    return "MCP-Protocol-Version does not match the body";
  }
  const method = headers[H.method];
  if (method === undefined) return "Mcp-Method is missing";
  if (single(method) !== message.method) return "Mcp-Method does not match the body";
  if (message.method !== undefined && NAMED[message.method] !== undefined) {
    const name = single(headers[H.name]);
    if (name === undefined) return "Mcp-Name is missing";
    if (decodeHeaderValue(name) !== targetName(message)) return "Mcp-Name does not match the body";
  }
  return undefined;
}
