import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RawResponse, rawRequest } from "./http.js";
import { INIT_BODY, MCP_HEADERS } from "./mcp.js";
import { startGateway, writeConfig } from "./procs.js";

export const ADMIN = "admin-token-0123456789abcdef";

/** A gateway hosting tenants, on its embedded store (a data directory of its own). */
export async function tenantGateway(
  extraYaml = "",
  dataDir = mkdtempSync(join(tmpdir(), "swy-tenants-")),
  args: string[] = [],
) {
  const config = writeConfig(
    `logLevel: info\ndiscovery:\n  enabled: false\nadmin:\n  allowHttpServers: true\n  dataDir: ${dataDir}\n${extraYaml}`,
  );
  const gateway = await startGateway(["--config", config, "--admin-token", ADMIN, ...args]);
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await rawRequest(`${gateway.base}/admin/v1${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { ...res, json: () => JSON.parse(res.body.toString()) };
  };
  /** A tenant that may reach this machine (its allowlist opens 127.0.0.1), with one key. */
  const tenant = async (id: string, settings: Record<string, unknown> = {}) => {
    assert.equal((await admin("POST", "/tenants", { id, allow: ["127.0.0.1/32"], ...settings })).status, 201);
    const key = (await admin("POST", `/tenants/${id}/keys`)).json().key as string;
    return key;
  };
  const server = async (tenantId: string, name: string, url: string, headers: Record<string, string> = {}) => {
    const res = await admin("POST", `/tenants/${tenantId}/servers`, { name, url, headers });
    assert.equal(res.status, 201, res.body.toString());
  };
  return { gateway, admin, tenant, server, dataDir };
}

export function initialize(url: string, headers: Record<string, string>): Promise<RawResponse> {
  return rawRequest(url, { headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(INIT_BODY) });
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
