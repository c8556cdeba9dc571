/**
 * `#/overview`: the gateway's load and phase, each route's replicas (state, requests in flight) and its
 * traffic charts; polled every 2 s while shown, updated in place (nothing focusable is rebuilt).
 */
import { request } from "./api.js";
import { chart } from "./chart.js";
import { dataTable, el, heading, row, sync } from "./dom.js";
import { alertBox, showError } from "./feedback.js";
import { count, span } from "./format.js";
import type { View } from "./router.js";
import type { Overview, Replica, RouteView } from "./types.js";

interface Held {
  node: HTMLElement;
  update(item: RouteView, bucketSeconds: number, now: number): void;
}

function summary(o: Overview): string {
  const sessions = o.sessions === null ? "sessions: unknown" : count(o.sessions, "session");
  const parts = [`${count(o.inFlight, "request")} in flight`, count(o.streams, "open stream"), sessions];
  if (o.phase.draining || o.phase.unready) parts.push(`phase: ${o.phase.draining ? "draining" : "not ready"}`);
  return `${parts.join(" · ")}.`;
}

function replicaRow(r: Replica) {
  const state = el("td", { "data-field": "state" });
  const inflight = el("td", { "data-field": "inflight" });
  return {
    node: row({ "data-replica": r.id }, [el("span", { class: "id", text: r.id }), state, inflight]),
    state,
    inflight,
  };
}

function updateReplica(h: ReturnType<typeof replicaRow>, r: Replica): void {
  // "down": serving, but failing its health checks.
  const shown = r.state === "serving" && !r.healthy ? "down" : r.state;
  if (h.state.textContent !== shown) h.state.replaceChildren(el("span", { class: `badge s-${shown}`, text: shown }));
  h.inflight.textContent = String(r.inFlight);
}

function card(route: RouteView): Held {
  const meta = el("small", { class: "meta" });
  const node = el("section", { class: "card", "data-route": route.name }, el("h2", {}, route.name, " ", meta));
  const table =
    route.kind === "virtual server" ? null : dataTable(`Replicas of ${route.name}`, ["Replica", "State", "In flight"]);
  const rows = new Map<string, ReturnType<typeof replicaRow>>();
  const rps = chart();
  const errors = chart();
  node.append(...(table ? [table.box] : []), el("div", { class: "charts" }, rps.node, errors.node));
  const update = (r: RouteView, seconds: number, at: number) => {
    meta.textContent =
      r.kind === "virtual server" ? "virtual server (federation)" : [r.kind, r.transport].filter(Boolean).join(" · ");
    if (table) sync(table.body, rows, r.replicas ?? [], (x) => x.id, replicaRow, updateReplica);
    const last = `last ${span(r.traffic.length * seconds)}`;
    // The newest bucket is still filling: its rate is over the part of it that has passed (gateway's clock).
    const newest = r.traffic.length - 1;
    const perSecond = r.traffic.map(
      (b, i) => b.requests / (i === newest ? Math.min(seconds, Math.max(1, (at - b.at) / 1000)) : seconds),
    );
    const rate = r.traffic.map((b) => (b.requests > 0 ? (b.errors / b.requests) * 100 : 0));
    const [now, peak] = [perSecond.at(-1) ?? 0, Math.max(0, ...perSecond)];
    rps.update(
      perSecond,
      Math.max(1, peak),
      `Requests per second, ${last}: now ${now.toFixed(1)}, peak ${peak.toFixed(1)}`,
    );
    const [nowPct, peakPct] = [rate.at(-1) ?? 0, Math.max(0, ...rate)];
    errors.update(rate, 100, `Error rate (5xx), ${last}: now ${nowPct.toFixed(1)}%, peak ${peakPct.toFixed(1)}%`);
  };
  return { node, update };
}

export const overviewView: View = (main, ctx) => {
  const line = el("p", { text: "Loading…" });
  const error = alertBox();
  const list = el("div");
  const empty = el("p", { hidden: true, text: "No routes." });
  main.append(heading("Overview"), line, error, empty, list);
  const cards = new Map<string, Held>();
  let timer: number | undefined;
  ctx.signal.addEventListener("abort", () => window.clearTimeout(timer));
  const poll = async () => {
    try {
      const o = await request<Overview>("GET", "/admin/v1/overview");
      showError(error);
      line.textContent = summary(o);
      sync(
        list,
        cards,
        o.routes,
        (r) => r.name,
        card,
        (c, r) => c.update(r, o.bucketSeconds, o.now),
      );
      empty.hidden = o.routes.length > 0;
    } catch (err) {
      showError(error, err);
    }
    if (!ctx.signal.aborted) timer = window.setTimeout(poll, 2000);
  };
  void poll();
};
