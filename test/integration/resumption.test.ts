import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { INIT_BODY } from "../helpers/mcp.js";
import type { GatewayProc } from "../helpers/procs.js";
import { type SharedCluster, startSharedCluster } from "../helpers/redis.js";
import { openSse, type SseEvent, type SseStream } from "../helpers/sse.js";
import { metricValue, waitFor } from "../helpers/wait.js";

/** Requests a gateway answered on route `svc` with a POST and a 200 (counted when the response closes). */
const POSTS_DONE = 'switchyard_requests_total{route="svc",method="POST",status="200"}';

/** progress → how many times it was seen; and whether the final answer came. */
function progressOf(events: SseEvent[]): number[] {
  return events
    .filter((e) => e.data.includes("notifications/progress"))
    .map((e) => (JSON.parse(e.data) as { params: { progress: number } }).params.progress);
}

describe("Streamable HTTP resumption across gateways (Last-Event-ID)", () => {
  let cluster: SharedCluster;
  let gateways: GatewayProc[];

  before(async () => {
    cluster = await startSharedCluster({
      replicas: 2,
      gateways: 2,
      upstream: (rs) => `svc=${rs.map((r) => r.url).join(",")}`,
    });
    ({ gateways } = cluster);
  });
  after(async () => {
    await cluster?.stop();
  });

  it("a stream dropped on one gateway resumes on another: no event lost, none twice", async () => {
    const [g1, g2] = gateways as [GatewayProc, GatewayProc];
    const init = await rawRequest(g1.route("svc"), { body: JSON.stringify(INIT_BODY) });
    const headers = sessionHeaders(init.headers["mcp-session-id"] as string);
    await rawRequest(g2.route("svc"), { headers, body: rpc("notifications/initialized", {}, null) });

    // The call takes at least steps × delayMs on the replica: it is still running when the client resumes.
    const [steps, delayMs] = [50, 80];
    const calledAt = Date.now();
    const call = await openSse(g1.route("svc"), {
      method: "POST",
      headers,
      body: rpc("tools/call", { name: "countdown", arguments: { steps, delayMs }, _meta: { progressToken: "p" } }, 2),
    });
    const priming = await call.next();
    assert.equal(priming.data, "", "the priming event passes through (SEP-1699)");
    assert.equal(priming.retry, 500, "with its retry: field");
    assert.ok(priming.id);
    await call.next((e) => progressOf([e])[0] === 3);
    call.close(); // the client's connection to g1 drops mid-call
    const first = progressOf(call.events);
    const lastId = call.events.at(-1)?.id as string;
    assert.ok(lastId, "events carry ids");
    // g1 counts the call done once its client left, in the same step in which it aborts the upstream
    // request (its second POST answered 200: the initialize was the first); the replica then lets go of the
    // stream when it sees the connection close.
    await waitFor(
      "g1 to let go of the dropped call",
      async () => (await metricValue(`${g1.base}/metrics`, POSTS_DONE)) >= 2,
    );
    // As a client does: reconnect, again after the `retry:` the server asked for while the replica still
    // holds the stream (409), until it takes the resumption.
    let resumed!: SseStream;
    await waitFor(
      "the replica to take the resumption",
      async () => {
        resumed = await openSse(g2.route("svc"), {
          headers: { ...headers, accept: "text/event-stream", "last-event-id": lastId },
        });
        if (resumed.res.statusCode !== 409) return true;
        resumed.close();
        return false;
      },
      { everyMs: priming.retry as number },
    );
    assert.equal(resumed.res.statusCode, 200);
    // Taken while the call still ran (it cannot have ended before calledAt + steps × delayMs): had g1 kept
    // its upstream request, the replica would have refused (409) until the call ended.
    const resumedAt = Date.now();
    assert.ok(
      resumedAt < calledAt + steps * delayMs,
      `resumed ${resumedAt - calledAt} ms into a call of at least ${steps * delayMs} ms`,
    );
    const answer = await resumed.next((e) => e.data.includes('"result"'), 30_000);
    assert.match(answer.data, /done on r\d/);
    const all = [...first, ...progressOf(resumed.events)];
    assert.deepEqual(
      all,
      Array.from({ length: steps }, (_, i) => i + 1),
      "every progress event once, in order",
    );
    resumed.close();
  });
});
