/** A tenant's quotas and allowlist: the current values, and for an admin the form that replaces them. */
import { path, request } from "./api.js";
import { el, field } from "./dom.js";
import { alertBox, announce, onSubmit, showError } from "./feedback.js";
import { bytes } from "./format.js";
import type { Quotas, Tenant } from "./types.js";

const QUOTAS: Array<[keyof Quotas, string]> = [
  ["sessions", "Sessions"],
  ["streams", "Streams"],
  ["rps", "Requests per second"],
  ["burst", "Burst"],
  ["maxBodyBytes", "Max body bytes"],
];

function fill(list: HTMLDListElement, t: Tenant): void {
  const show = (key: keyof Quotas) =>
    key === "maxBodyBytes" ? `${t.quotas[key]} (${bytes(t.quotas[key])})` : `${t.quotas[key]}`;
  const items = QUOTAS.flatMap(([key, label]) => [el("dt", { text: label }), el("dd", { text: show(key) })]);
  const allow = t.allow.length > 0 ? t.allow.join(", ") : "none (public addresses only)";
  list.replaceChildren(...items, el("dt", { text: "Allowlist" }), el("dd", { text: allow }));
}

function settingsForm(t: Tenant, saved: (t: Tenant) => void): HTMLFormElement {
  const inputs = QUOTAS.map(([key, label]) => {
    const step = key === "rps" ? "any" : 1;
    const input = el("input", { id: `quota-${key}`, type: "number", min: 0, step, value: t.quotas[key] });
    return { key, input, node: field(label, input) };
  });
  const allow = el("textarea", { id: "tenant-allow", rows: 4, spellcheck: "false" });
  allow.value = t.allow.join("\n");
  const error = alertBox();
  const form = el(
    "form",
    { id: "tenant-settings", novalidate: true, class: "stack" },
    el("div", { class: "grid" }, ...inputs.map((i) => i.node)),
    field("Allowlist (one CIDR, address or host name per line)", allow),
    el("p", { class: "hint", text: "An empty quota takes the operator's default." }),
    el("div", {}, el("button", { type: "submit", text: "Save" })),
    error,
  );
  onSubmit(form, async () => {
    const quotas: Partial<Quotas> = {};
    for (const { key, input } of inputs) if (input.value.trim() !== "") quotas[key] = Number(input.value);
    const lines = allow.value.split("\n").map((l) => l.trim());
    try {
      const next = await request<Tenant>("PUT", path("tenants", t.id), { quotas, allow: lines.filter(Boolean) });
      showError(error);
      for (const { key, input } of inputs) input.value = String(next.quotas[key]);
      saved(next);
      announce("Saved.");
    } catch (err) {
      showError(error, err);
    }
  });
  return form;
}

export function settingsSection(t: Tenant, admin: boolean): HTMLElement {
  const list = el("dl", { class: "facts" });
  fill(list, t);
  return el(
    "section",
    {},
    el("h2", { text: "Quotas and allowlist" }),
    list,
    admin && settingsForm(t, (next) => fill(list, next)),
  );
}
