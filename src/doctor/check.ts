import { checkCors } from "./cors-check.js";
import { checkDiscovery } from "./discovery-check.js";
import { checkExposure } from "./exposure-check.js";
import { finding, type Report, toReport } from "./finding.js";
import { CheckHttp, type HttpOptions } from "./http.js";
import { checkOAuth } from "./oauth-check.js";
import { checkSessions } from "./session-checks.js";
import { checkStreams } from "./stream-checks.js";
import { checkTls } from "./tls-check.js";

export interface CheckOptions extends HttpOptions {
  /** Requests in the session after initialize, each on a new connection. */
  repeat: number;
  /** How long the diagnostic stream stays idle (0: not tested). */
  idleMs: number;
  /** A browser origin whose access to check. */
  origin?: string;
}

/** Audit a live MCP endpoint (`switchyard check URL`) through whatever stands in front of it. */
export async function runCheck(url: string, options: CheckOptions): Promise<Report> {
  const target = new URL(url);
  const http = new CheckHttp(options, target);
  const findings = [await checkTls(target, options)];
  try {
    const sessions = await checkSessions(http, target.href, options.repeat);
    findings.push(...sessions.findings);
    findings.push(await checkOAuth(http, target.href));
    findings.push(await checkExposure(http, target.href));
    findings.push(await checkCors(http, target.href, options.origin));
    findings.push(await checkDiscovery(http, target.href, sessions.versions));
    findings.push(...(await checkStreams(http, target.href, options.idleMs)));
  } catch (err) {
    findings.push(
      finding("reach", "fail", `the endpoint could not be reached: ${(err as Error).message}`, {
        fix: "check the URL, the port and the TLS settings (--ca, --insecure)",
      }),
    );
  } finally {
    await http.close().catch(() => {});
  }
  return toReport(target.href, findings);
}
