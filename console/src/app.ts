/**
 * The console's entry: sign-in or the views, the nav and sign-out, and what a token no longer accepted
 * does (back to sign-in).
 */
import { ApiError, whenUnauthorized, whoAmI } from "./api.js";
import { byId } from "./dom.js";
import { announce } from "./feedback.js";
import { type Routes, startRouter, stopRouter } from "./router.js";
import { showSignIn } from "./signin.js";
import { clearToken, getToken } from "./token.js";
import type { Access } from "./types.js";
import { checkView } from "./view-check.js";
import { configView } from "./view-config.js";
import { overviewView } from "./view-overview.js";
import { sessionsView } from "./view-sessions.js";
import { tenantView } from "./view-tenant.js";
import { tenantsView } from "./view-tenants.js";

const routes: Routes = {
  overview: overviewView,
  sessions: sessionsView,
  tenants: tenantsView,
  "tenants/": tenantView,
  config: configView,
  check: checkView,
};

const main = byId<HTMLElement>("main");
const nav = document.querySelector("nav") as HTMLElement;
const note = byId<HTMLElement>("access-note");

function enter(access: Access, focus: boolean): void {
  document.body.dataset.access = access;
  nav.hidden = false;
  note.hidden = access !== "read";
  startRouter(main, routes, access === "admin", focus);
}

function signIn(message?: string, focus = false): void {
  stopRouter();
  delete document.body.dataset.access;
  nav.hidden = true;
  note.hidden = true;
  const onSignedIn = (access: Access) => {
    enter(access, true);
    announce(access === "admin" ? "Signed in." : "Signed in, read-only.");
  };
  showSignIn(main, { message, focus, onSignedIn });
}

function signOut(message?: string, focus = false): void {
  clearToken();
  signIn(message, focus);
}

whenUnauthorized(() => {
  if (getToken() !== null) signOut("Signed out: the token is no longer accepted.", true);
});

byId("sign-out").addEventListener("click", () => {
  signOut(undefined, true);
  announce("Signed out.");
});

async function start(): Promise<void> {
  const token = getToken();
  if (token === null) return signIn();
  try {
    enter(await whoAmI(token), false);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signOut("Signed out: the token is no longer accepted.");
    else signIn(err instanceof Error ? err.message : String(err));
  }
}

void start();
