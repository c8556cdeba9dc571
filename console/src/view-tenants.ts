/** `#/tenants`: the tenants (keys, servers, quotas), and for an admin the form that creates one. */
import { request } from "./api.js";
import { dataTable, el, field, heading, row } from "./dom.js";
import { alertBox, announce, load, onSubmit, showError } from "./feedback.js";
import { bytes } from "./format.js";
import type { View } from "./router.js";
import type { Quotas, Tenant } from "./types.js";

function quotas(q: Quotas): string {
  return `${q.sessions} sessions · ${q.streams} streams · ${q.rps} rps (burst ${q.burst}) · body ${bytes(q.maxBodyBytes)}`;
}

function createForm(created: () => Promise<void>): HTMLFormElement {
  const input = el("input", { id: "tenant-id", autocomplete: "off", spellcheck: "false" });
  const error = alertBox();
  const form = el(
    "form",
    { id: "new-tenant", novalidate: true, class: "inline" },
    field("Tenant id", input, "1 to 63 of a-z, 0-9 and -, starting with a letter or a digit."),
    el("button", { type: "submit", text: "Create tenant" }),
    error,
  );
  onSubmit(form, async () => {
    try {
      const tenant = await request<Tenant>("POST", "/admin/v1/tenants", { id: input.value.trim() });
      showError(error);
      input.value = "";
      announce(`Tenant ${tenant.id} created.`);
      await created();
    } catch (err) {
      showError(error, err);
    }
  });
  return form;
}

export const tenantsView: View = (main, ctx) => {
  const error = alertBox();
  const table = dataTable("Tenants", ["Tenant", "Keys", "Servers", "Quotas"], "No tenants.");
  const link = (id: string) => el("a", { href: `#/tenants/${encodeURIComponent(id)}`, text: id });
  const reload = () =>
    load(error, request<{ tenants: Tenant[] }>("GET", "/admin/v1/tenants"), ({ tenants }) =>
      table.fill(tenants.map((t) => row({ "data-tenant": t.id }, [link(t.id), t.keys, t.servers, quotas(t.quotas)]))),
    );
  main.append(heading("Tenants"));
  if (ctx.admin) main.append(el("h2", { text: "New tenant" }), createForm(reload), el("h2", { text: "All tenants" }));
  main.append(error, table.node);
  void reload();
};
