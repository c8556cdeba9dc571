import assert from "node:assert/strict";
import { hash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { accessibilityViolations, launchBrowser, screenshot } from "../helpers/browser.js";
import { errorCode, rawRequest, sessionHeaders } from "../helpers/http.js";
import { connect, INIT_BODY, isGateway404, MCP_HEADERS, type Session } from "../helpers/mcp.js";
import {
  type ExampleReplica,
  freePort,
  type GatewayProc,
  startAll,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { type RedisServer, startRedis } from "../helpers/redis.js";
import { ADMIN } from "../helpers/tenants.js";
import { waitFor } from "../helpers/wait.js";

/**
 * The operator's console in a real browser (Debian's Chromium, driven by playwright-core), against a
 * gateway with two routes of real replicas, Redis as its store, and tenants. Each page is checked with
 * axe-core and saved as a screenshot (test-results/console/) at desktop width and at 360 px.
 */

const READ = "console-read-token-0123456789";

// What the functions given to `page.evaluate` use: they run in the page, not in Node.
declare const window: { innerWidth: number; mark?: number };
declare const document: {
  documentElement: { scrollWidth: number };
  body: { dataset: { access?: string } };
  cookie: string;
};
declare const sessionStorage: { length: number; getItem(key: string): string | null };

describe("the operator's console, in Chromium", () => {
  let redis: RedisServer;
  let replicas: ExampleReplica[];
  let tenantReplica: ExampleReplica;
  let gateway: GatewayProc;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Requests the page made, and what its console said (CSP violations are console errors). */
  const requested: string[] = [];
  const consoleErrors: string[] = [];
  let filesPort: number;

  before(async () => {
    filesPort = await freePort();
    redis = await startRedis();
    replicas = await startAll([
      startReplica("files-1", `127.0.0.1:${filesPort}`),
      startReplica("files-2"),
      startReplica("notes-1"),
    ]);
    tenantReplica = await startReplica("tenant-1");
    const [f1, f2, n1] = replicas as [ExampleReplica, ExampleReplica, ExampleReplica];
    const config = writeConfig(`logLevel: warn
discovery:
  enabled: false
store:
  url: ${redis.url}
  commandTimeout: 5s
admin:
  readToken: ${READ}
  allowHttpServers: true
health:
  interval: 300ms
  unhealthyThreshold: 1
upstreams:
  files:
    replicas: [${f1.url}, ${f2.url}]
  notes:
    replicas: [${n1.url}]
`);
    gateway = await startGateway(["--config", config, "--admin-token", ADMIN]);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("request", (r) => requested.push(r.url()));
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await Promise.all([...(replicas ?? []), tenantReplica].map((r) => r?.stop("SIGKILL")));
    await redis?.stop();
  });

  const consoleUrl = () => `${gateway.base}/console/`;

  /** Both views of the current page: as it is, and at 360 px wide (nothing may scroll sideways there). */
  async function look(name: string): Promise<void> {
    await screenshot(page, name);
    await page.setViewportSize({ width: 360, height: 780 });
    await page.waitForTimeout(50);
    const { scroll, width } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
    }));
    await screenshot(page, `${name}-360px`);
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.ok(scroll <= width, `${name}: ${scroll} px wide at a 360 px viewport`);
    const violations = await accessibilityViolations(page);
    assert.deepEqual(violations, [], `${name}: accessibility`);
  }

  async function go(hash: string, heading: string | RegExp): Promise<void> {
    await page.click(`nav a[href="${hash}"]`);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  }

  it("is served with a strict Content-Security-Policy and nothing but its own small files", async () => {
    const res = await fetch(consoleUrl());
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=/i, "no inline style or handler");
    // Its own files only: nothing else under /console/.
    assert.equal((await fetch(`${gateway.base}/console/nope.js`)).status, 404);
    assert.equal((await fetch(`${gateway.base}/console`, { redirect: "manual" })).status, 308);
  });

  it("refuses a wrong token, and signs in with the admin token (with the keyboard alone)", async () => {
    await page.goto(consoleUrl());
    await page.getByRole("heading", { level: 1 }).waitFor();
    assert.equal(await page.locator("nav a").first().isVisible(), false, "nothing but the sign-in before it");
    await look("signin");
    await page.fill("#token", "not-the-token-0123456789");
    await page.click("form#signin button[type=submit]");
    await page.locator("#signin-error").waitFor();
    assert.match(await page.locator("#signin-error").innerText(), /refused/i);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");
    await page.fill("#token", "");
    await page.focus("#token");
    await page.keyboard.type(ADMIN);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    assert.equal(await page.evaluate(() => document.body.dataset.access), "admin");
    assert.equal(await page.evaluate(() => document.cookie), "", "no cookie: the token is a bearer header");
  });

  it("shows both routes and their replicas; a replica killed shows down without a reload, then serving again", async () => {
    const [f1, f2, n1] = replicas as [ExampleReplica, ExampleReplica, ExampleReplica];
    const state = (route: string, id: string) =>
      page.locator(`section[data-route="${route}"] tr[data-replica="${id}"] [data-field="state"]`);
    for (const [route, replica] of [
      ["files", f1],
      ["files", f2],
      ["notes", n1],
    ] as const) {
      await waitFor(
        `${route} ${replica.name} serving`,
        async () => (await state(route, replica.url).innerText()) === "serving",
      );
    }
    await look("overview");
    // The page is not reloaded: a mark left in it stays.
    await page.evaluate(() => {
      window.mark = 1;
    });
    await f1.stop("SIGKILL");
    await waitFor("files-1 shown down", async () => (await state("files", f1.url).innerText()) === "down", {
      timeoutMs: 8_000,
    });
    assert.equal(await state("files", f2.url).innerText(), "serving");
    await screenshot(page, "overview-replica-down");
    replicas[0] = await startReplica("files-1", `127.0.0.1:${filesPort}`);
    await waitFor("files-1 shown serving again", async () => (await state("files", f1.url).innerText()) === "serving", {
      timeoutMs: 8_000,
    });
    assert.equal(await page.evaluate(() => window.mark), 1, "never reloaded");
  });

  let key = "";

  it("creates a tenant, a key and a server from the page; the key works for an SDK client; an internal URL is refused, with why", async () => {
    await go("#/tenants", "Tenants");
    await page.fill("#tenant-id", "acme");
    await page.click("form#new-tenant button[type=submit]");
    await page.locator('a[href="#/tenants/acme"]').click();
    await page.getByRole("heading", { level: 1, name: /acme/ }).waitFor();
    // The tenant may reach this machine's loopback replica, and nothing else that is internal.
    await page.fill("#tenant-allow", "127.0.0.1/32");
    await page.click("form#tenant-settings button[type=submit]");
    await waitFor("the allowlist saved", async () => {
      const res = await admin("GET", "/tenants/acme");
      return (JSON.parse(res.body.toString()) as { allow: string[] }).allow.includes("127.0.0.1/32");
    });
    await page.click("#new-key-button");
    await page.locator("#new-key").waitFor();
    key = (await page.locator("#new-key").innerText()).trim();
    assert.match(key, /\S{20,}/, "the new key is shown once");
    await screenshot(page, "tenant-new-key");
    // An internal address: refused by the URL check, the reason on the page.
    await page.fill("#server-name", "metadata");
    await page.fill("#server-url", "http://169.254.169.254/mcp");
    await page.click("form#new-server button[type=submit]");
    await page.locator("#server-error").waitFor();
    const refusal = await page.locator("#server-error").innerText();
    assert.match(refusal, /^Refused: /);
    assert.match(refusal, /169\.254\.169\.254 is linkLocal/, "the reason");
    assert.equal(await page.locator('tr[data-server="metadata"]').count(), 0);
    await look("tenant-refused");
    await page.fill("#server-name", "s1");
    await page.fill("#server-url", tenantReplica.url);
    await page.click("form#new-server button[type=submit]");
    await page.locator('tr[data-server="s1"]').waitFor();
    // The key the page showed, in a real SDK client, through the server the page added.
    const client = await connect(`${gateway.base}/acme/s1/mcp`, "tenant-client", { authorization: `Bearer ${key}` });
    const who = await client.whoami();
    assert.equal(who.replica, "tenant-1");
    await client.close();
    const wrong = await rawRequest(`${gateway.base}/acme/s1/mcp`, {
      headers: { ...MCP_HEADERS, authorization: "Bearer not-a-key" },
      body: JSON.stringify(INIT_BODY),
    });
    assert.equal(wrong.status, 401, "and only that key");
  });

  it("revokes a session from the page: that client's next request gets 404", async () => {
    const sessions: Session[] = [
      await connect(`${gateway.base}/files/mcp`),
      await connect(`${gateway.base}/files/mcp`),
    ];
    const [victim, bystander] = sessions as [Session, Session];
    const sid = String(victim.transport.sessionId);
    const name = hash("sha256", sid, "base64url"); // the hash the page lists, never the id
    await go("#/sessions", "Sessions");
    await page.selectOption("#session-route", "files");
    const row = page.locator(`tr[data-session="${name}"]`);
    await row.waitFor();
    assert.equal(
      await page
        .locator(`tr[data-session="${hash("sha256", String(bystander.transport.sessionId), "base64url")}"]`)
        .count(),
      1,
    );
    assert.ok(!(await page.content()).includes(sid), "the session id itself is never on the page");
    await look("sessions");
    await row.getByRole("button", { name: /revoke/i }).click();
    await row.waitFor({ state: "detached" });
    await assert.rejects(victim.whoami(), isGateway404("SWY_SESSION_NOT_FOUND"));
    const raw = await rawRequest(`${gateway.base}/files/mcp`, {
      headers: { ...MCP_HEADERS, ...sessionHeaders(sid) },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping" }),
    });
    assert.equal(raw.status, 404);
    assert.equal(errorCode(raw).swy, "SWY_SESSION_NOT_FOUND");
    assert.ok((await bystander.whoami()).sessionCalls >= 1, "the other session is served");
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
  });

  it("shows the running configuration without its secrets, and runs switchyard check against a route", async () => {
    await go("#/config", "Configuration");
    await page.locator("pre").waitFor();
    const text = await page.locator("main").innerText();
    assert.match(text, /"files"/);
    for (const secret of [ADMIN, READ]) assert.ok(!text.includes(secret), "no secret shown");
    await look("config");
    await go("#/check", "Check");
    await page.selectOption("#check-route", "notes");
    await page.click("form#check-form button[type=submit]");
    const affinity = page.locator('tr[data-finding="session.affinity"]');
    await affinity.waitFor({ timeout: 60_000 });
    assert.equal(await affinity.getAttribute("data-status"), "pass");
    await look("check");
    await go("#/tenants", "Tenants");
    await look("tenants");
    await page.locator('a[href="#/tenants/acme"]').click();
    await page.getByRole("heading", { level: 1, name: /acme/ }).waitFor();
    await look("tenant");
    // The traffic of the tests above, charted.
    await go("#/overview", "Overview");
    await page.locator('section[data-route="files"] svg').first().waitFor();
    const label = await page.locator('section[data-route="files"] svg[role="img"]').first().getAttribute("aria-label");
    assert.match(String(label), /peak (0\.[1-9]|[1-9])/, "the route's requests are charted");
    await screenshot(page, "overview-traffic");
  });

  it("with the read-only token: no control that changes anything, and the API refuses", async () => {
    const reader = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await reader.newPage();
    await p.goto(consoleUrl());
    await p.fill("#token", READ);
    await p.click("form#signin button[type=submit]");
    await p.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    assert.equal(await p.evaluate(() => document.body.dataset.access), "read");
    const session = await connect(`${gateway.base}/notes/mcp`);
    await p.click('nav a[href="#/sessions"]');
    await p.locator(`tr[data-session="${hash("sha256", String(session.transport.sessionId), "base64url")}"]`).waitFor();
    assert.equal(await p.getByRole("button", { name: /revoke/i }).count(), 0, "no revoke button");
    await p.click('nav a[href="#/tenants"]');
    await p.locator('a[href="#/tenants/acme"]').waitFor();
    assert.equal(await p.locator("form#new-tenant").count(), 0);
    await p.locator('a[href="#/tenants/acme"]').click();
    await p.locator('tr[data-server="s1"]').waitFor();
    for (const control of ["form#new-server", "form#tenant-settings", "#new-key-button"]) {
      assert.equal(await p.locator(control).count(), 0, `${control} absent`);
    }
    assert.equal(await p.getByRole("button", { name: /delete/i }).count(), 0, "no delete button");
    await screenshot(p, "tenant-read-only");
    // What the page would send, the API refuses.
    const status = await p.evaluate(async () => {
      const token = sessionStorage.getItem("switchyard.token") ?? "";
      const res = await fetch("/admin/v1/tenants", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ id: "sneaky" }),
      });
      return res.status;
    });
    assert.equal(status, 403);
    assert.equal((await admin("GET", "/tenants/sneaky")).status, 404);
    await session.close();
    await reader.close();
  });

  it("asked nothing of any other origin, and broke no rule of its policy", () => {
    const origin = new URL(gateway.base).origin;
    const foreign = requested.filter((u) => new URL(u).origin !== origin);
    assert.deepEqual(foreign, [], "works offline: every request to the gateway");
    const violations = consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e));
    assert.deepEqual(violations, []);
  });

  function admin(method: string, path: string) {
    return rawRequest(`${gateway.base}/admin/v1${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
  }
});

describe("the console on a listener of its own (console.listen)", () => {
  let replica: ExampleReplica;
  let gateway: GatewayProc;
  let browser: Browser;
  before(async () => {
    replica = await startReplica("r1");
    const port = await freePort();
    const config = writeConfig(`logLevel: warn
console:
  listen: 127.0.0.1:${port}
upstreams:
  svc:
    replicas: [${replica.url}]
`);
    gateway = await startGateway(["--config", config, "--admin-token", ADMIN]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await replica?.stop();
  });

  it("serves the console and the admin API there, and the console nowhere else; the startup line names it", async () => {
    const listening = JSON.parse(gateway.lines.find((l) => l.includes('"msg":"listening"')) ?? "{}") as {
      console?: string;
    };
    const url = String(listening.console);
    assert.notEqual(new URL(url).origin, new URL(gateway.base).origin);
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await fetch(`${gateway.base}/console/`)).status, 404, "not on the public listener");
    assert.equal((await fetch(new URL("/svc/mcp", url), { method: "POST" })).status, 404, "no route there");
    const page = await browser.newPage();
    await page.goto(url);
    await page.fill("#token", ADMIN);
    await page.click("form#signin button[type=submit]");
    await page.locator(`section[data-route="svc"] tr[data-replica="${replica.url}"]`).waitFor();
    await page.close();
  });
});
