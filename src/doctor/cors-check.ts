import { type Finding, finding } from "./finding.js";
import { type CheckHttp, header } from "./http.js";

const PROBE_ORIGIN = "https://switchyard-check.example";

const lists = (value: string | undefined, name: string) =>
  value !== undefined &&
  (value.trim() === "*" ||
    value
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(name));

/**
 * Browser clients: where another origin is allowed, the preflight must allow `Mcp-Session-Id` and the
 * answers must expose it, or a browser client cannot keep its session.
 */
export async function checkCors(http: CheckHttp, url: string, origin: string | undefined): Promise<Finding> {
  const from = origin ?? PROBE_ORIGIN;
  const preflight = await http.send(url, {
    method: "OPTIONS",
    headers: {
      origin: from,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, mcp-session-id, mcp-protocol-version",
    },
  });
  const allowed = header(preflight, "access-control-allow-origin");
  if (preflight.status >= 300 || (allowed !== from && allowed !== "*")) {
    const title = `browsers on ${from} are refused (HTTP ${preflight.status}, no CORS for that origin)`;
    return origin === undefined
      ? finding("cors", "skip", title, {
          fix: "if browser clients need it, allow their origins (security.allowedOrigins)",
        })
      : finding("cors", "fail", title, { fix: "allow that origin (Switchyard: security.allowedOrigins)" });
  }
  const fix = "expose Mcp-Session-Id to browsers (Access-Control-Expose-Headers) and allow it as a request header";
  if (!lists(header(preflight, "access-control-allow-headers"), "mcp-session-id")) {
    return finding("cors", "fail", `the preflight from ${from} does not allow the Mcp-Session-Id request header`, {
      fix,
    });
  }
  const res = await http.send(url, {
    method: "POST",
    headers: {
      origin: from,
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-session-id": "switchyard-check-cors",
      "mcp-protocol-version": "2025-11-25",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ping" }),
  });
  if (!lists(header(res, "access-control-expose-headers"), "mcp-session-id")) {
    return finding(
      "cors",
      "fail",
      `answers to ${from} do not expose Mcp-Session-Id: browser clients lose their session`,
      {
        fix,
      },
    );
  }
  return finding("cors", "pass", `browsers on ${from} may use the endpoint, Mcp-Session-Id exposed`);
}
