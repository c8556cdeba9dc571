/**
 * Hash routes (`#/overview`, `#/tenants/ID`, …): one view at a time, the previous one stopped (its timers,
 * its late answers ignored), the nav link marked, focus on the new view's h1.
 */
import { announce } from "./feedback.js";

export interface ViewContext {
  /** Signed in with the admin token: controls that change something are rendered. */
  admin: boolean;
  /** The route's parameter (`#/tenants/ID` → ID). */
  param: string;
  /** Aborted when the view is left: its timers stop, its late answers say nothing. */
  signal: AbortSignal;
}

export type View = (main: HTMLElement, ctx: ViewContext) => void;

export interface Routes {
  /** The view for `#/NAME` or `#/NAME/PARAM` (NAME + "/" for the latter); "overview" for anything else. */
  [name: string]: View;
}

let current: AbortController | null = null;
let listening: (() => void) | null = null;

function resolve(routes: Routes, hash: string): { name: string; view: View; param: string } {
  const [name = "", ...rest] = hash.replace(/^#\/?/, "").split("/");
  try {
    const param = decodeURIComponent(rest.join("/"));
    const view = routes[param ? `${name}/` : name];
    if (view) return { name, view, param };
  } catch {
    // a malformed escape: the overview
  }
  return { name: "overview", view: routes.overview as View, param: "" };
}

function markNav(name: string): void {
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function show(main: HTMLElement, routes: Routes, admin: boolean, focus: boolean): void {
  current?.abort();
  current = new AbortController();
  const { name, view, param } = resolve(routes, location.hash);
  markNav(name);
  announce("");
  main.replaceChildren();
  view(main, { admin, param, signal: current.signal });
  const h1 = main.querySelector("h1");
  document.title = h1 ? `${h1.textContent} · Switchyard console` : "Switchyard console";
  if (focus) h1?.focus();
}

/** Show the hash's view now (`focus`: move focus to its h1), and each next one on hashchange. */
export function startRouter(main: HTMLElement, routes: Routes, admin: boolean, focus: boolean): void {
  stopRouter();
  if (!location.hash || location.hash === "#") history.replaceState(null, "", "#/overview");
  const onHash = () => show(main, routes, admin, true);
  window.addEventListener("hashchange", onHash);
  listening = () => window.removeEventListener("hashchange", onHash);
  show(main, routes, admin, focus);
}

/** Leave the current view and stop following the hash (signed out). */
export function stopRouter(): void {
  current?.abort();
  current = null;
  listening?.();
  listening = null;
}
