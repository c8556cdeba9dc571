/** `#/config`: the running configuration (secrets masked), when it was loaded, and the last reload refused. */
import { request } from "./api.js";
import { el, heading, scrollBox } from "./dom.js";
import { alertBox, load } from "./feedback.js";
import { timeEl } from "./format.js";
import type { View } from "./router.js";
import type { ConfigView } from "./types.js";

function refused(r: NonNullable<ConfigView["lastRefused"]>): HTMLElement {
  return el(
    "section",
    { id: "last-refused" },
    el("h2", { text: "Last refused reload" }),
    el("p", {}, `Trigger: ${r.trigger}. At `, timeEl(r.at), "."),
    el("ul", {}, ...r.errors.map((e) => el("li", { class: "id", text: e }))),
  );
}

export const configView: View = (main) => {
  const error = alertBox();
  const content = el("div");
  main.append(heading("Configuration"), error, content);
  void load(error, request<ConfigView>("GET", "/admin/v1/config"), (c) =>
    content.append(
      el("p", {}, "Loaded at ", timeEl(c.loadedAt), " ", el("span", { class: "meta", text: `(${c.loadedAt})` })),
      c.lastRefused ? refused(c.lastRefused) : el("p", { text: "No reload was refused since it was loaded." }),
      el("h2", { text: "Running configuration" }),
      scrollBox("Running configuration", el("pre", { text: JSON.stringify(c.config, null, 2) }), {
        class: "scroll code",
      }),
    ),
  );
};
