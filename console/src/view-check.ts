/**
 * `#/check`: `switchyard check` run by the gateway against one of its routes, through its public URL;
 * the findings (a GET: read-only tokens may run it).
 */
import { request } from "./api.js";
import { dataTable, el, field, heading, row } from "./dom.js";
import { alertBox, announce, load, onSubmit, showError } from "./feedback.js";
import type { View } from "./router.js";
import type { Finding, Overview, Report } from "./types.js";

const ABOUT =
  "Runs switchyard check against a route through the gateway's public URL (sessions, streams, CORS, TLS, auth…) and shows its findings.";

function findingRow(f: Finding): HTMLTableRowElement {
  const notes = el("td", {}, f.detail && el("span", { class: "block", text: f.detail }));
  if (f.fix) notes.append(el("span", { class: "block" }, el("strong", { text: "Fix: " }), f.fix));
  const status = el("span", { class: `badge f-${f.status}`, text: f.status });
  return row({ "data-finding": f.id, "data-status": f.status }, [status, f.id, f.title, notes]);
}

function report(r: Report, summary: string): HTMLElement {
  const table = dataTable("Findings", ["Status", "Finding", "What was seen", "Detail and fix"]);
  table.fill(r.findings.map(findingRow));
  const url = el("p", { class: "meta id", text: `Checked ${r.url}` });
  return el("section", {}, el("h2", { text: "Result" }), el("p", { class: "summary", text: summary }), url, table.node);
}

export const checkView: View = (main, ctx) => {
  const select = el("select", { id: "check-route" });
  const error = alertBox();
  const result = el("div");
  const button = el("button", { type: "submit", text: "Run check" });
  const form = el("form", { id: "check-form", novalidate: true, class: "inline" }, field("Route", select), button);
  main.append(heading("Check"), el("p", { text: ABOUT }), form, error, result);
  onSubmit(form, async () => {
    if (!select.value) return;
    showError(error);
    announce("Running the check…");
    try {
      const r = await request<Report>("GET", `/admin/v1/check?route=${encodeURIComponent(select.value)}`);
      const { pass, warn, fail, skip } = r.counts;
      const summary = `${pass} pass, ${warn} warn, ${fail} fail, ${skip} skip`;
      result.replaceChildren(report(r, summary));
      if (!ctx.signal.aborted) announce(`Check finished: ${summary}.`);
    } catch (err) {
      showError(error, err);
      if (!ctx.signal.aborted) announce("The check did not finish.");
    }
  });
  void load(error, request<Overview>("GET", "/admin/v1/overview"), (o) =>
    select.append(...o.routes.map((r) => el("option", { value: r.name, text: `${r.name} (${r.kind})` }))),
  );
};
