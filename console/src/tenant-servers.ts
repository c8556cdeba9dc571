/**
 * A tenant's upstream servers and the path clients reach each at; an admin adds one (the gateway checks
 * its URL: a refusal is said as such) or deletes one.
 */
import { ApiError, path, request } from "./api.js";
import { dataTable, el, field, row } from "./dom.js";
import { alertBox, announce, load, onAction, onSubmit, showError } from "./feedback.js";
import type { TenantServer } from "./types.js";

function serverForm(tenant: string, added: () => Promise<void>): HTMLFormElement {
  const name = el("input", { id: "server-name", autocomplete: "off", spellcheck: "false" });
  const url = el("input", { id: "server-url", type: "url", autocomplete: "off", spellcheck: "false" });
  const transport = el("select", { id: "server-transport" });
  transport.append(...["streamable-http", "sse"].map((t) => el("option", { value: t, text: t })));
  const error = alertBox("server-error");
  const form = el(
    "form",
    { id: "new-server", novalidate: true, class: "stack" },
    el("div", { class: "grid" }, field("Server name", name), field("URL", url), field("Transport", transport)),
    el("div", {}, el("button", { type: "submit", text: "Add server" })),
    error,
  );
  onSubmit(form, async () => {
    const body = { name: name.value.trim(), url: url.value.trim(), transport: transport.value };
    try {
      await request("POST", path("tenants", tenant, "servers"), body);
      showError(error);
      form.reset();
      announce(`Server ${body.name} added.`);
      await added();
    } catch (err) {
      const refused = err instanceof ApiError && err.code === "SWY_ADMIN_URL_REFUSED";
      showError(error, err, refused ? "Refused: " : undefined);
    }
  });
  return form;
}

export function serversSection(tenant: string, admin: boolean): HTMLElement {
  const error = alertBox();
  const columns = ["Server", "URL", "Transport", "Client path"];
  const table = dataTable("Servers", admin ? [...columns, "Action"] : columns, "No servers.");
  const h2 = el("h2", { tabindex: -1, text: "Servers" });
  const serverRow = (s: TenantServer) => {
    const cells = [s.name, el("span", { class: "id", text: s.url }), s.transport];
    cells.push(el("code", { class: "id", text: `/${tenant}/${s.name}/mcp` }));
    if (admin) {
      const del = el("button", { type: "button", "aria-label": `Delete server ${s.name}`, text: "Delete" });
      const gone = () => request("DELETE", path("tenants", tenant, "servers", s.name)).then(() => "Server deleted.");
      onAction(del, error, gone, () => reload().then(() => (table.box.hidden ? h2 : table.box).focus()));
      cells.push(del);
    }
    return row({ "data-server": s.name }, cells);
  };
  const reload = () =>
    load(error, request<{ servers: TenantServer[] }>("GET", path("tenants", tenant, "servers")), ({ servers }) =>
      table.fill(servers.map(serverRow)),
    );
  void reload();
  const section = el("section", {}, h2, error, table.node);
  if (admin) section.append(el("h3", { text: "Add a server" }), serverForm(tenant, reload));
  return section;
}
