import { DIAGNOSTICS_PATH } from "../gateway/diagnostics.js";
import { type Finding, finding } from "./finding.js";
import type { CheckHttp } from "./http.js";

/**
 * What the public URL shows anyone without a credential: Prometheus metrics (they name every replica's
 * address), the admin API, the diagnostic stream. Each reachable one is a warning: operations belong
 * on their own address (`ops.listen`) or behind a token.
 */
export async function checkExposure(http: CheckHttp, url: string): Promise<Finding> {
  const origin = new URL(url).origin;
  const open: string[] = [];
  const probe = async (path: string, looks: (status: number, body: string) => boolean) => {
    const res = await http.send(`${origin}${path}`, { anonymous: true }).catch(() => undefined);
    if (res && looks(res.status, res.body.toString("utf8"))) open.push(path);
  };
  await probe("/metrics", (status, body) => status === 200 && /^# (HELP|TYPE) /m.test(body));
  await probe("/admin/v1/tenants", (status) => status === 200);
  await probe(`${DIAGNOSTICS_PATH}?events=1&every=10`, (status) => status === 200);
  if (open.length === 0) return finding("exposure", "pass", "no operational endpoint answers without a credential");
  return finding("exposure", "warn", `open to anyone on the public URL: ${open.join(", ")}`, {
    fix: "move operations to their own address (Switchyard: ops.listen), or set metrics.token; turn diagnostics off once audited",
  });
}
