import type { Report } from "../../src/doctor/finding.js";
import { CLI, spawnManaged } from "./procs.js";

/** The findings that pass through a sound deployment of Switchyard (diagnostics on, no CORS asked). */
export const SOUND_DEPLOYMENT = [
  "tls",
  "session.id",
  "session.affinity",
  "session.unknown",
  "stream.get",
  "session.delete",
  "versions",
  "discovery",
  "stream.buffering",
  "stream.idle",
  "stream.headers",
];

/** `switchyard check ARGS --json` as a user runs it: the exit code, the report, each finding's status. */
export async function check(args: string[]) {
  const proc = spawnManaged(process.execPath, [CLI, "check", ...args, "--json"]);
  const code = await proc.exited;
  const report = JSON.parse(proc.lines.join("\n")) as Report;
  const status = (id: string) => report.findings.find((f) => f.id === id)?.status ?? "absent";
  const title = (id: string) => report.findings.find((f) => f.id === id)?.title ?? "";
  /** The findings that did not pass, for assertion messages. */
  const problems = () => JSON.stringify(report.findings.filter((f) => f.status === "fail" || f.status === "warn"));
  return { code, report, status, title, problems };
}
