/**
 * `#/sessions`: every route's sessions from the store (named by a hash), filtered by route; an admin
 * revokes one, or all of a route.
 */
import { request } from "./api.js";
import { dataTable, el, field, heading, row } from "./dom.js";
import { alertBox, load, onAction, showError } from "./feedback.js";
import { count, duration } from "./format.js";
import type { View } from "./router.js";
import type { Overview, Session, SessionList } from "./types.js";

const SIGNED =
  "This gateway signs session ids (sessions.affinity: token): they are held by no store, so they are not listed here.";

const short = (id: string) => (id.length > 12 ? `${id.slice(0, 12)}…` : id);

export const sessionsView: View = (main, ctx) => {
  const h1 = heading("Sessions");
  const select = el("select", { id: "session-route" }, el("option", { value: "", text: "All routes" }));
  const refresh = el("button", { type: "button", text: "Refresh" });
  const revokeAll = el("button", { type: "button", hidden: true });
  const error = alertBox();
  const notes = el("div");
  const columns = ["Route", "Session", "Replica", "Transport", "Age", "Idle"];
  const table = dataTable("Sessions", ctx.admin ? [...columns, "Action"] : columns, "No sessions.");
  const tools = el("div", { class: "toolbar" }, field("Route", select), refresh, ctx.admin && revokeAll);
  main.append(h1, tools, error, notes, table.node);

  const sessionRow = (s: Session) => {
    const cells = [s.route, el("span", { title: s.id, text: short(s.id) }), s.replica, s.transport];
    cells.push(duration(s.ageSeconds), duration(s.idleSeconds));
    if (ctx.admin) {
      const revoke = el("button", { type: "button", "aria-label": `Revoke session ${short(s.id)}`, text: "Revoke" });
      const path = `/admin/v1/sessions/${encodeURIComponent(s.route)}/${encodeURIComponent(s.id)}`;
      onAction(revoke, error, () => request("DELETE", path).then(() => "Session revoked."), reloadAndFocus);
      cells.push(revoke);
    }
    return row({ "data-session": s.id }, cells);
  };

  let seq = 0;
  const reload = () => {
    const mine = ++seq;
    const route = select.value;
    revokeAll.hidden = route === "";
    revokeAll.textContent = `Revoke all on ${route}`;
    const query = route ? `?route=${encodeURIComponent(route)}` : "";
    return load(error, request<SessionList>("GET", `/admin/v1/sessions${query}`), (list) => {
      if (mine !== seq) return;
      const lines = list.signedIds ? [SIGNED] : [];
      if (list.truncated) lines.push(`Showing the first ${list.sessions.length}.`);
      notes.replaceChildren(...lines.map((text) => el("p", { class: "note", text })));
      table.fill(list.sessions.map(sessionRow));
    });
  };
  // The revoked row's button is gone: focus its table, or the heading when it is empty.
  const reloadAndFocus = () => reload().then(() => (table.box.hidden ? h1 : table.box).focus());

  onAction(
    revokeAll,
    error,
    async () => {
      const query = `?route=${encodeURIComponent(select.value)}`;
      const done = await request<{ revoked: number }>("DELETE", `/admin/v1/sessions${query}`);
      return `Revoked ${count(done.revoked, "session")}.`;
    },
    reload,
  );
  refresh.addEventListener("click", reload);
  select.addEventListener("change", reload);
  request<Overview>("GET", "/admin/v1/overview").then(
    (o) => select.append(...o.routes.map((r) => el("option", { value: r.name, text: r.name }))),
    (err) => showError(error, err),
  );
  void reload();
};
