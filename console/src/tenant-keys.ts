/** A tenant's API keys: ids and dates; an admin makes a new one (its secret shown once) or deletes one. */
import { path, request } from "./api.js";
import { dataTable, el, row } from "./dom.js";
import { alertBox, announce, load, onAction } from "./feedback.js";
import { timeEl } from "./format.js";
import type { TenantKey } from "./types.js";

/** The new key, shown once, with a Copy button when the clipboard can be written. */
function keyBox(key: string): HTMLElement {
  const box = el(
    "div",
    { class: "new-key" },
    el("p", { text: "Copy this key now: it is not shown again." }),
    el("output", { id: "new-key", class: "secret", text: key }),
  );
  if (navigator.clipboard) {
    const copy = el("button", { type: "button", text: "Copy" });
    copy.addEventListener("click", () =>
      navigator.clipboard.writeText(key).then(
        () => announce("Key copied."),
        () => announce("The key could not be copied: select it and copy it."),
      ),
    );
    box.append(copy);
  }
  return box;
}

export function keysSection(tenant: string, admin: boolean): HTMLElement {
  const error = alertBox();
  const table = dataTable("Keys", admin ? ["Key", "Created", "Action"] : ["Key", "Created"], "No keys.");
  const newKey = el("button", { type: "button", id: "new-key-button", text: "New key" });
  const shown = el("div");
  const keyRow = (k: TenantKey) => {
    const cells = [el("span", { class: "id", text: k.id }), timeEl(k.createdAt)];
    if (admin) {
      const del = el("button", { type: "button", "aria-label": `Delete key ${k.id}`, text: "Delete" });
      const gone = () => request("DELETE", path("tenants", tenant, "keys", k.id)).then(() => "Key deleted.");
      onAction(del, error, gone, () => reload().then(() => newKey.focus()));
      cells.push(del);
    }
    return row({ "data-key": k.id }, cells);
  };
  const reload = () =>
    load(error, request<{ keys: TenantKey[] }>("GET", path("tenants", tenant, "keys")), ({ keys }) =>
      table.fill(keys.map(keyRow)),
    );
  onAction(
    newKey,
    error,
    async () => {
      const created = await request<{ key: string }>("POST", path("tenants", tenant, "keys"));
      shown.replaceChildren(keyBox(created.key));
      return "Key created: copy it now, it is not shown again.";
    },
    reload,
  );
  void reload();
  return el("section", {}, el("h2", { text: "Keys" }), error, table.node, admin && newKey, shown);
}
