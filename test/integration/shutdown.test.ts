import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { connect, INIT_BODY } from "../helpers/mcp.js";
import { owned, type Replica, startGateway, startReplica, writeConfig } from "../helpers/procs.js";
import { startRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait.js";

/** Open the session's standalone GET stream; resolves once the gateway has answered with SSE headers. */
function openGetStream(url: string, sessionId: string): Promise<{ closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        headers: { accept: "text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET stream answered ${res.statusCode}`));
          return;
        }
        const closed = new Promise<void>((r) => res.once("close", () => r()));
        res.resume();
        resolve({ closed });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The gateway's log line once SIGTERM has made it stop listening (written at level info). */
const DRAINING = (line: string) => line.includes('"msg":"draining"');

// As one process, and as one gateway of two workers (the primary passes SIGTERM on and exits after them).
for (const workers of [1, 2])
  describe(`graceful shutdown on SIGTERM${workers > 1 ? ", --workers 2" : ""}`, () => {
    const procs = owned();
    let replica: Replica;
    before(async () => {
      replica = await procs.own(startReplica("r"));
    });
    after(() => procs.stopAll());

    it("finishes in-flight requests, refuses new connections, then closes streams and exits 0", async () => {
      // A grace far longer than the call: exiting once the call is done is told apart from exiting at the deadline.
      const graceMs = 20_000;
      const config = writeConfig(`logLevel: info\ntimeouts:\n  shutdownGrace: ${graceMs}ms\n`);
      const gateway = await procs.own(
        startGateway(["--upstream", `svc=${replica.url}`, "--config", config, "--workers", String(workers)]),
      );
      const s = await connect(gateway.route("svc"));
      // A second session, raw, holding its standalone GET stream open.
      const init = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
      const stream = await openGetStream(gateway.route("svc"), init.headers["mcp-session-id"] as string);
      // In flight once its first progress event has come through the gateway; 1.75 s still to run then.
      let underway!: () => void;
      const firstProgress = new Promise<void>((r) => {
        underway = r;
      });
      let answered = false;
      const call = s.client
        .callTool({ name: "countdown", arguments: { steps: 8, delayMs: 250 } }, undefined, {
          onprogress: () => underway(),
          timeout: 20_000, // a 2 s call: one cut short fails here, not at the SDK's 60 s default
        })
        .finally(() => {
          answered = true;
        });
      await firstProgress;
      const signalledAt = Date.now();
      gateway.child.kill("SIGTERM");
      // Every worker stops listening (the primary's socket closes with the last).
      await waitFor("every worker draining", async () => gateway.lines.filter(DRAINING).length === workers);
      await assert.rejects(fetch(`${gateway.base}/healthz`), "no new connections once draining");
      assert.equal(answered, false, "refused while the in-flight call was still running");
      const result = (await call) as { content: Array<{ text: string }> };
      assert.equal(result.content[0]?.text, "done on r", "the in-flight call completed");
      await stream.closed;
      assert.equal(await gateway.exited, 0);
      const took = Date.now() - signalledAt;
      assert.ok(
        took < graceMs / 2,
        `exited once the in-flight call was done, not at the ${graceMs} ms deadline (${took} ms)`,
      );
    });

    it("cuts requests still running at the deadline", async () => {
      const graceMs = 1000;
      const config = writeConfig(`logLevel: warn\ntimeouts:\n  shutdownGrace: ${graceMs}ms\n`);
      const gateway = await procs.own(
        startGateway(["--upstream", `svc=${replica.url}`, "--config", config, "--workers", String(workers)]),
      );
      const init = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
      const sid = init.headers["mcp-session-id"] as string;
      // A 30-second tool call, read raw: its answer must come out cut, not complete.
      let underway!: () => void;
      const firstProgress = new Promise<void>((r) => {
        underway = r;
      });
      const answer = new Promise<{ text: string; complete: boolean }>((resolve) => {
        const req = request(
          gateway.route("svc"),
          {
            method: "POST",
            headers: sessionHeaders(sid),
          },
          (res) => {
            let text = "";
            res.on("data", (d) => {
              text += d;
              if (text.includes("notifications/progress")) underway();
            });
            res.on("end", () => resolve({ text, complete: true }));
            res.on("error", () => resolve({ text, complete: false }));
            res.on("close", () => resolve({ text, complete: res.complete }));
          },
        );
        req.on("error", () => resolve({ text: "", complete: false }));
        req.end(
          rpc(
            "tools/call",
            { name: "countdown", arguments: { steps: 120, delayMs: 250 }, _meta: { progressToken: "cut" } },
            2,
          ),
        );
      });
      // In flight once its first progress event has come through the gateway.
      await Promise.race([firstProgress, answer]);
      const signalledAt = Date.now();
      gateway.child.kill("SIGTERM");
      assert.equal(await gateway.exited, 0);
      const took = Date.now() - signalledAt;
      // Not before the grace period (a timer never fires early); and at its end, not when the call would
      // have ended by itself (30 s): the bound is far from either, whatever the machine's load.
      assert.ok(took >= graceMs - 50, `waited for the grace period (${took} ms of ${graceMs} ms)`);
      assert.ok(took < 15_000, `cut at the deadline, not when the call ended (${took} ms)`);
      const { text, complete } = await answer;
      assert.match(text, /notifications\/progress/, "the call was under way when the signal came");
      assert.equal(complete, false, "the unfinished answer is cut, not passed off as complete");
      assert.doesNotMatch(text, /done on r/);
    });
  });

describe("readiness: /readyz says whether this gateway can serve", () => {
  const procs = owned();
  let replica: Replica;
  before(async () => {
    replica = await procs.own(startReplica("ready"));
  });
  after(() => procs.stopAll());

  it("on SIGTERM, answers /readyz 503 for shutdown.unreadyDelay while it still serves everything, then drains", async () => {
    const gateway = await procs.own(
      startGateway([
        "--config",
        writeConfig(
          `logLevel: info\nshutdown:\n  unreadyDelay: 3s\nupstreams:\n  svc:\n    replicas: [${replica.url}]\n`,
        ),
      ]),
    );
    assert.equal((await fetch(`${gateway.base}/readyz`)).status, 200);
    const s = await connect(gateway.route("svc"), "through-the-delay");
    gateway.child.kill("SIGTERM");
    await gateway.waitForLine((l) => l.includes('"msg":"unready"'));
    const ready = await fetch(`${gateway.base}/readyz`);
    assert.equal(ready.status, 503, "load balancers are told to stop sending");
    assert.equal(((await ready.json()) as { status: string }).status, "unready");
    // Everything is still served meanwhile: existing sessions, and new ones.
    assert.equal((await s.whoami()).replica, "ready");
    const fresh = await rawRequest(gateway.route("svc"), { body: JSON.stringify(INIT_BODY) });
    assert.equal(fresh.status, 200);
    assert.ok(!gateway.lines.some(DRAINING), "not draining yet");
    await gateway.waitForLine(DRAINING);
    assert.equal(await gateway.exited, 0);
    await s.close().catch(() => {});
  });

  it("is unready while its session store is unreachable, and ready again once it answers", async () => {
    const redis = await procs.own(startRedis());
    const gateway = await procs.own(
      startGateway([
        "--config",
        writeConfig(
          `logLevel: warn\nstore:\n  url: ${redis.url}\n  commandTimeout: 500ms\nupstreams:\n  svc:\n    replicas: [${replica.url}]\n`,
        ),
      ]),
    );
    assert.equal((await fetch(`${gateway.base}/readyz`)).status, 200);
    redis.pause();
    try {
      const res = await fetch(`${gateway.base}/readyz`);
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { reason: string }).reason, /session store unreachable/);
    } finally {
      redis.resume();
    }
    await waitFor("ready again", async () => (await fetch(`${gateway.base}/readyz`)).status === 200);
  });
});
