/** `#/tenants/ID`: one tenant's quotas and allowlist, keys and servers; an admin may delete it. */
import { path, request } from "./api.js";
import { el, heading } from "./dom.js";
import { alertBox, load, onAction } from "./feedback.js";
import { timeEl } from "./format.js";
import type { View } from "./router.js";
import { keysSection } from "./tenant-keys.js";
import { serversSection } from "./tenant-servers.js";
import { settingsSection } from "./tenant-settings.js";
import type { Tenant } from "./types.js";

function deleteSection(id: string): HTMLElement {
  const error = alertBox();
  const button = el("button", { type: "button", class: "danger", text: "Delete tenant" });
  onAction(button, error, async () => {
    await request("DELETE", path("tenants", id));
    location.hash = "#/tenants";
    return "Tenant deleted.";
  });
  const text = "Deleting the tenant deletes its keys and servers and revokes its sessions.";
  return el("section", {}, el("h2", { text: "Delete" }), el("p", { text }), button, error);
}

export const tenantView: View = (main, ctx) => {
  const id = ctx.param;
  const error = alertBox();
  const content = el("div");
  main.append(
    heading(`Tenant ${id}`),
    el("p", {}, el("a", { href: "#/tenants", text: "All tenants" })),
    error,
    content,
  );
  void load(error, request<Tenant>("GET", path("tenants", id)), (t) => {
    content.append(el("p", { class: "meta" }, "Created ", timeEl(t.createdAt), "."), settingsSection(t, ctx.admin));
    content.append(keysSection(id, ctx.admin), serversSection(id, ctx.admin));
    if (ctx.admin) content.append(deleteSection(id));
  });
};
