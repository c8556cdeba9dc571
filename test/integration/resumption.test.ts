import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawRequest, rpc, sessionHeaders } from "../helpers/http.js";
import { INIT_BODY } from "../helpers/mcp.js";
import { type GatewayProc, sleep } from "../helpers/procs.js";
import { type SharedCluster, startSharedCluster } from "../helpers/redis.js";
import { openSse, type SseEvent } from "../helpers/sse.js";

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

    const steps = 12;
    const call = await openSse(g1.route("svc"), {
      method: "POST",
      headers,
      body: rpc(
        "tools/call",
        { name: "countdown", arguments: { steps, delayMs: 80 }, _meta: { progressToken: "p" } },
        2,
      ),
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
    // As a client does: reconnect after the `retry:` the server asked for (by then g1 has let go upstream).
    await sleep(priming.retry as number);

    const resumed = await openSse(g2.route("svc"), {
      headers: { ...headers, accept: "text/event-stream", "last-event-id": lastId },
    });
    assert.equal(resumed.res.statusCode, 200);
    const answer = await resumed.next((e) => e.data.includes('"result"'), 10_000);
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
