import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { connect, connectModern, INIT_BODY, MCP_HEADERS, modernBody, modernHeaders } from "../helpers/mcp.js";
import {
  CLI,
  type GatewayProc,
  type Managed,
  owned,
  type Replica,
  sleep,
  spawnManaged,
  startDualEra,
  startGateway,
  startReplica,
  writeConfig,
} from "../helpers/procs.js";
import { startRedis } from "../helpers/redis.js";
import { metricValue, waitFor } from "../helpers/wait.js";

interface Member extends Managed {
  url: string;
  name: string;
  /** Sessions the member holds open now. */
  sessions(): Promise<number>;
  /** Forget every session (their next request gets 404), as a member whose sessions expired. */
  drop(): Promise<void>;
  /** Calls of `wait` cancelled so far. */
  cancelled(): Promise<number>;
}

const FIXTURE = fileURLToPath(new URL("../fixtures/member-server.ts", import.meta.url));

/** A legacy SDK v1 member (`test/fixtures/member-server.ts`). */
async function startMember(name: string, args: string[] = []): Promise<Member> {
  const proc = spawnManaged(process.execPath, ["--import", "tsx", FIXTURE, "--name", name, ...args]);
  const line = await proc.waitForLine((l) => l.includes('"listening"'));
  const url = (JSON.parse(line) as { url: string }).url;
  const side = (path: string) => url.replace(/\/mcp$/, path);
  return Object.assign(proc, {
    url,
    name,
    sessions: async () => ((await (await fetch(side("/sessions"))).json()) as { open: number }).open,
    drop: async () => {
      await fetch(side("/drop"), { method: "POST" });
    },
    cancelled: async () => ((await (await fetch(side("/cancelled"))).json()) as { cancelled: number }).cancelled,
  });
}

const portOf = (url: string) => new URL(url).port;

/** A JSON-RPC message POSTed in a legacy session (`sid`), as a raw client would. */
function postInSession(url: string, sid: string | undefined, message: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      ...MCP_HEADERS,
      "mcp-protocol-version": "2025-11-25",
      ...(sid === undefined ? {} : { "mcp-session-id": sid }),
    },
    body: JSON.stringify(message),
  });
}

/** A gateway on `yaml` (quiet logs). */
function gatewayOn(yaml: string): Promise<GatewayProc> {
  return startGateway(["--config", writeConfig(`logLevel: warn\n${yaml}`)]);
}

/** Every page of a client's tools/list. */
async function allTools(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return names;
}

type ToolResult = { structuredContent?: Record<string, unknown> };

describe("federation: one endpoint for the tools of several servers, across eras", () => {
  const procs = owned();
  let a: Member;
  let b: Replica;
  let c: Replica;
  let gateway: GatewayProc;

  before(async () => {
    [a, b, c] = await Promise.all([
      procs.own(startMember("a", ["--tools", "t1,t2,t3,t4,t5", "--page", "2"])),
      procs.own(startDualEra("b")),
      procs.own(startDualEra("c")),
    ]);
    gateway = await procs.own(
      gatewayOn(`upstreams:
  a: { replicas: [${a.url}] }
  b: { replicas: [${b.url}] }
  c: { replicas: [${c.url}] }
virtual:
  pair: { members: [b, c] }
  all:
    members: [a, b]
    rename: { b_echo_region: region }
    tools: { deny: [a_t5] }
    serverInfo: { name: everything, version: "2.0.0" }
    instructions: Use the tools of a and b.
`),
    );
  });
  after(() => procs.stopAll());

  it("answers initialize itself: its own serverInfo, the members' capabilities and instructions", async () => {
    const s = await connect(gateway.route("all"));
    const info = s.client.getServerVersion();
    assert.deepEqual(info, { name: "everything", version: "2.0.0" });
    const caps = s.client.getServerCapabilities();
    assert.ok(caps?.tools && caps.prompts && caps.resources, "tools (a, b), prompts and resources (b)");
    const instructions = s.client.getInstructions() ?? "";
    assert.match(instructions, /^Use the tools of a and b\./);
    assert.match(instructions, /## a\n\nMember a counts\./, "the legacy member's own instructions, under its name");
    await s.close();
    // Counted under the virtual server's name, as a route's requests are.
    const counted = await metricValue(
      `${gateway.base}/metrics`,
      'switchyard_requests_total{route="all",method="POST",status="200"}',
    );
    assert.ok(counted >= 1, `${counted} requests counted for "all"`);
  });

  it("merges the members' lists, pages included, with prefixed, filtered and renamed names", async () => {
    const s = await connect(gateway.route("all"));
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await s.client.listTools(cursor === undefined ? {} : { cursor });
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    // a pages its 9 tools by 2: five merged pages, b's tools on the first.
    assert.equal(pages, 5, "the cursor carried a's own cursor to its last page");
    assert.deepEqual(
      names.sort(),
      [
        "a_ask",
        "a_count",
        "a_progress",
        "a_t1",
        "a_t2",
        "a_t3",
        "a_t4",
        "a_wait",
        "b_confirm",
        "b_slow",
        "b_whoami",
        "region",
      ].sort(),
      "each member's tools under its prefix; a_t5 denied; b_echo_region renamed",
    );
    const prompts = await s.client.listPrompts();
    assert.deepEqual(
      prompts.prompts.map((p) => p.name),
      ["b_greet"],
    );
    const resources = await s.client.listResources();
    assert.deepEqual(
      resources.resources.map((r) => r.uri),
      ["demo://b/config"],
      "resource URIs are kept as they are",
    );
    await s.close();
  });

  it("routes calls by name to their member, with the member's own name, in the member's era", async () => {
    const s = await connect(gateway.route("all"));
    const first = (await s.client.callTool({ name: "a_count", arguments: {} })) as ToolResult;
    const second = (await s.client.callTool({ name: "a_count", arguments: {} })) as ToolResult;
    assert.deepEqual(first.structuredContent, { member: "a", calls: 1 });
    assert.deepEqual(
      second.structuredContent,
      { member: "a", calls: 2 },
      "one member session for the client's session",
    );
    const t3 = (await s.client.callTool({ name: "a_t3", arguments: {} })) as ToolResult;
    assert.deepEqual(t3.structuredContent, { member: "a", tool: "t3" });
    const who = (await s.client.callTool({ name: "b_whoami", arguments: {} })) as ToolResult;
    assert.equal(who.structuredContent?.replica, "b");
    assert.equal(who.structuredContent?.era, "modern", "b speaks 2026-07-28: the gateway bridged the eras");
    const region = await s.client.callTool({ name: "region", arguments: { region: "eu-west1" } });
    assert.match(JSON.stringify(region.content), /eu-west1/, "a renamed tool is called by its new name");
    const prompt = await s.client.getPrompt({ name: "b_greet", arguments: { name: "Ada" } });
    assert.ok(prompt.messages.length > 0);
    const read = await s.client.readResource({ uri: "demo://b/config" });
    assert.match(JSON.stringify(read.contents), /config of b/);
    await s.close();
  });

  it("refuses names it does not serve with a JSON-RPC error, as a server does", async () => {
    const s = await connect(gateway.route("all"));
    for (const name of ["count", "a_t5", "b_echo_region", "c_count"]) {
      await assert.rejects(
        s.client.callTool({ name, arguments: {} }),
        (err: unknown) =>
          err instanceof McpError && err.code === -32602 && /SWY_UNKNOWN_NAME|no such tool/.test(err.message),
        name,
      );
    }
    await s.close();
  });

  it("relays a member's progress to the client while the call runs", async () => {
    const s = await connect(gateway.route("all"));
    const seen: number[] = [];
    const r = (await s.client.callTool({ name: "a_progress", arguments: {} }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    })) as ToolResult;
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(r.structuredContent, { member: "a", done: true });
    await s.close();
  });

  it("relays a member's sampling, elicitation and roots requests to the client, and the answers back", async () => {
    const client = new Client(
      { name: "asked", version: "1.0.0" },
      { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
    );
    const ids: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req, extra) => {
      ids.push(extra.requestId);
      const asked = JSON.stringify(req.params.messages[0]?.content).match(/question from \w+/)?.[0];
      return { model: "test", role: "assistant", content: { type: "text", text: `answer to ${asked}` } };
    });
    client.setRequestHandler(ElicitRequestSchema, async (req) => ({
      action: "accept",
      content: { word: `yes, ${req.params.message}` },
    }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///work", name: "work" }] }));
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.route("all"))));
    const r = (await client.callTool({ name: "a_ask", arguments: {} })) as ToolResult;
    assert.deepEqual(r.structuredContent, {
      member: "a",
      sampled: "answer to question from a",
      elicited: "yes, a wants a word",
      roots: ["file:///work"],
    });
    assert.ok(
      ids.every((id) => typeof id === "string" && id.startsWith("swy/a/")),
      `the member's request ids name it toward the client (${JSON.stringify(ids)})`,
    );
    await client.close();
  });

  it("a modern member's request for input (input_required) reaches a legacy client as a request, and its answer goes back", async () => {
    const client = new Client({ name: "asked", version: "1.0.0" }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return { action: "accept", content: { word: "swordfish" } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.route("all"))));
    const r = await client.callTool({ name: "b_confirm", arguments: {} });
    assert.deepEqual(asked, ["b wants a word"]);
    assert.match(JSON.stringify(r.content), /confirmed with swordfish on b/);
    await client.close();
  });

  it("a legacy member's own requests reach a modern client as input_required, and its answers go back", async () => {
    const client = new ModernClient(
      { name: "modern-asked", version: "1.0.0" },
      {
        capabilities: { sampling: {}, elicitation: {}, roots: {} },
        versionNegotiation: { mode: { pin: "2026-07-28" } },
      },
    );
    const asked: string[] = [];
    client.setRequestHandler("sampling/createMessage", async () => {
      asked.push("sampling");
      return { model: "test", role: "assistant", content: { type: "text", text: "modern answer" } };
    });
    client.setRequestHandler("elicitation/create", async () => {
      asked.push("elicitation");
      return { action: "accept", content: { word: "modern word" } };
    });
    client.setRequestHandler("roots/list", async () => {
      asked.push("roots");
      return { roots: [{ uri: "file:///modern", name: "modern" }] };
    });
    await client.connect(new ModernTransport(new URL(gateway.route("all"))));
    const r = (await client.callTool({ name: "a_ask", arguments: {} })) as ToolResult;
    assert.deepEqual(
      asked,
      ["sampling", "elicitation", "roots"],
      "three rounds of input_required, fulfilled by the client",
    );
    assert.deepEqual(r.structuredContent, {
      member: "a",
      sampled: "modern answer",
      elicited: "modern word",
      roots: ["file:///modern"],
    });
    await client.close();
  });

  it("a client's cancellation reaches the member", async () => {
    const s = await connect(gateway.route("all"));
    const cancelledBefore = await a.cancelled();
    const ac = new AbortController();
    const call = s.client.callTool({ name: "a_wait", arguments: {} }, undefined, { signal: ac.signal });
    await sleep(200);
    ac.abort("changed my mind");
    await assert.rejects(call);
    await waitFor("the member to see the call cancelled", async () => (await a.cancelled()) > cancelledBefore);
    await s.close();
  });

  it("list_changed from a member, of either era, reaches the client on its one GET stream", async () => {
    const client = new Client({ name: "watcher", version: "1.0.0" });
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changes++;
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.route("all"))));
    // The GET stream is open once a member's own stream is followed: a change of a's reaches the client.
    await sleep(300);
    await fetch(a.url.replace(/\/mcp$/, "/add-tool?name=fresh"), { method: "POST" });
    await waitFor("a's change to reach the client", () => changes >= 1);
    assert.ok((await allTools(client)).includes("a_fresh"), "and the new tool is listed");
    const before = changes;
    await fetch(b.url.replace(/\/mcp$/, "/notify"), { method: "POST" });
    await waitFor("b's change (a modern member's subscriptions/listen) to reach the client", () => changes > before);
    await client.close();
  });

  it("a modern client's subscriptions/listen hears the members' changes too", async () => {
    const client = await connectModern(gateway.route("all"));
    let changes = 0;
    client.setNotificationHandler("notifications/tools/list_changed", async () => {
      changes++;
    });
    const subscription = await client.listen({ toolsListChanged: true });
    await sleep(300);
    await fetch(b.url.replace(/\/mcp$/, "/notify"), { method: "POST" });
    await waitFor("b's change to reach the modern client", () => changes >= 1);
    await subscription.close();
    await client.close();
  });

  it("keeps a merged list for modern clients while every member's hints allow, as the strictest says", async () => {
    const listsSeen = async () => {
      const stats = await Promise.all(
        [b, c].map(
          async (r) =>
            (await (await fetch(r.url.replace(/\/mcp$/, "/stats"))).json()) as { seen: Record<string, number> },
        ),
      );
      return stats.reduce((n, s) => n + (s.seen["tools/list"] ?? 0), 0);
    };
    const ask = () =>
      fetch(gateway.route("pair"), {
        method: "POST",
        headers: modernHeaders("tools/list"),
        body: modernBody("tools/list"),
      });
    const first = await ask();
    assert.equal(first.headers.get("x-switchyard-cache"), null);
    const answer = (await first.json()) as {
      result: { tools: Array<{ name: string }>; ttlMs: number; cacheScope: string };
    };
    assert.deepEqual(
      answer.result.tools
        .map((t) => t.name)
        .filter((n) => n.endsWith("whoami"))
        .sort(),
      ["b_whoami", "c_whoami"],
    );
    assert.equal(answer.result.cacheScope, "public", "both members keep their tools public");
    assert.ok(answer.result.ttlMs > 0 && answer.result.ttlMs <= 60_000, "within the members' own ttlMs");
    const seen = await listsSeen();
    const second = await ask();
    assert.equal(second.headers.get("x-switchyard-cache"), "hit");
    const again = (await second.json()) as { result: { tools: unknown[] } };
    assert.deepEqual(again.result.tools, answer.result.tools);
    assert.equal(await listsSeen(), seen, "no member was asked again");
  });

  it("serves a modern client too: the legacy member behind it gets a session of the gateway's", async () => {
    const client = await connectModern(gateway.route("all"));
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === "a_count") && tools.tools.some((t) => t.name === "b_whoami"));
    const r = (await client.callTool({ name: "a_t1", arguments: {} })) as ToolResult;
    assert.deepEqual(r.structuredContent, { member: "a", tool: "t1" });
    await client.close();
  });

  it("re-opens a member session the member lost: the client's session goes on without re-initializing", async () => {
    const s = await connect(gateway.route("all"));
    assert.deepEqual(((await s.client.callTool({ name: "a_count", arguments: {} })) as ToolResult).structuredContent, {
      member: "a",
      calls: 1,
    });
    await a.drop();
    const after = (await s.client.callTool({ name: "a_count", arguments: {} })) as ToolResult;
    assert.deepEqual(
      after.structuredContent,
      { member: "a", calls: 1 },
      "a new member session, behind the client's back",
    );
    assert.deepEqual(((await s.client.callTool({ name: "a_count", arguments: {} })) as ToolResult).structuredContent, {
      member: "a",
      calls: 2,
    });
    await s.close();
  });

  it("ends the member sessions when the client ends its session", async () => {
    await a.drop();
    const s = await connect(gateway.route("all"));
    await s.client.callTool({ name: "a_count", arguments: {} });
    assert.equal(await a.sessions(), 1);
    await s.transport.terminateSession();
    assert.equal(await a.sessions(), 0, "DELETE reached the member");
    await s.close();
  });

  // The discovery documents ask the members who they are (a session opened and ended): after the counts above.
  it("is listed in the discovery documents as the server it says it is, nothing of its members' addresses", async () => {
    const doc = (await (await fetch(`${gateway.base}/.well-known/mcp`)).json()) as {
      servers: Array<{ mcp: { endpoint: string; protocolVersions?: string[] } }>;
    };
    const entry = doc.servers.find((e) => e.mcp.endpoint.endsWith("/all/mcp"));
    assert.ok(entry, JSON.stringify(doc));
    assert.ok(entry.mcp.protocolVersions?.includes("2026-07-28") && entry.mcp.protocolVersions.includes("2025-11-25"));
    const card = await fetch(`${gateway.base}/all/mcp/server-card`);
    assert.equal(card.status, 200);
    const text = await card.text();
    assert.match(text, /"version": ?"2\.0\.0"/, "its own serverInfo");
    for (const member of [a, b, c]) assert.ok(!text.includes(new URL(member.url).host), "no member's address");
  });

  it("a member down: its tools leave the lists, its calls get an error naming it, the rest serve on", async () => {
    const s = await connect(gateway.route("all"));
    let changes = 0;
    s.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changes++;
    });
    await sleep(300);
    await a.stop();
    try {
      await waitFor("the client to be told its list changed", () => changes >= 1);
      await waitFor("a's tools to leave the list", async () => {
        const tools = await s.client.listTools();
        return !tools.tools.some((t) => t.name.startsWith("a_"));
      });
      await assert.rejects(
        s.client.callTool({ name: "a_count", arguments: {} }),
        (err: unknown) =>
          err instanceof McpError &&
          /member a/.test(err.message) &&
          /unavailable|cannot be reached/i.test(err.message) &&
          (err.data as { member?: string; code?: string } | undefined)?.member === "a" &&
          (err.data as { code?: string }).code === "SWY_MEMBER_UNAVAILABLE",
      );
      const who = (await s.client.callTool({ name: "b_whoami", arguments: {} })) as ToolResult;
      assert.equal(who.structuredContent?.replica, "b", "b serves on");
    } finally {
      a = await procs.own(startMember("a", ["--tools", "t1,t2,t3,t4,t5", "--page", "2", "--port", portOf(a.url)]));
    }
    await waitFor("a's tools to come back", async () => {
      const tools = await s.client.listTools();
      return tools.tools.some((t) => t.name === "a_count");
    });
    const back = (await s.client.callTool({ name: "a_count", arguments: {} })) as ToolResult;
    assert.equal(back.structuredContent?.member, "a");
    await s.close();
  });
});

describe("federation: names, failure modes, and sessions across gateway replicas", () => {
  const procs = owned();
  after(() => procs.stopAll());

  it("refuses to start when members' names collide without a prefix, naming them", async () => {
    const [m1, m2] = await Promise.all([
      procs.own(startMember("m1", ["--tools", "shared"])),
      procs.own(startMember("m2")),
    ]);
    const file = writeConfig(`logLevel: warn
upstreams:
  m1: { replicas: [${m1.url}] }
  m2: { replicas: [${m2.url}] }
virtual:
  flat: { members: [m1, m2], prefix: "" }
`);
    const proc = spawnManaged(process.execPath, [CLI, "serve", "--listen", "127.0.0.1:0", "--config", file]);
    const code = await proc.exited;
    assert.equal(code, 2);
    const stderr = proc.stderr.join("\n");
    assert.match(stderr, /virtual server flat: names collide/);
    assert.match(stderr, /tool count \(from m1, m2\)/);
    assert.match(stderr, /tool progress \(from m1, m2\)/);
    assert.doesNotMatch(stderr, /tool shared/, "only m1 has it");
  });

  it("refuses a reload that would bring colliding names, and keeps serving; applies one that does not", async () => {
    const [m1, m2] = await Promise.all([
      procs.own(startMember("r1")),
      procs.own(startMember("r2", ["--tools", "other"])),
    ]);
    const yaml = (members: string) => `logLevel: warn
upstreams:
  r1: { replicas: [${m1.url}] }
  r2: { replicas: [${m2.url}] }
virtual:
  flat: { members: [${members}], prefix: "" }
`;
    const file = writeConfig(yaml("r1"));
    const gateway = await procs.own(startGateway(["--config", file]));
    const reloads = (outcome: string) =>
      metricValue(`${gateway.base}/metrics`, `switchyard_config_reloads_total{outcome="${outcome}"}`);
    writeFileSync(file, yaml("r1, r2"));
    gateway.child.kill("SIGHUP");
    await waitFor("the reload to be refused", async () => (await reloads("refused")) === 1);
    const s = await connect(gateway.route("flat"));
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("count") && !names.includes("other"), "the running configuration serves on");
    writeFileSync(file, yaml("r2"));
    gateway.child.kill("SIGHUP");
    await waitFor("the next reload to be applied", async () => (await reloads("applied")) === 1);
    await s.close();
    const after = await connect(gateway.route("flat"));
    assert.ok(
      (await after.client.listTools()).tools.some((t) => t.name === "other"),
      "r2's tools now",
    );
    await after.close();
  });

  it("onMemberFailure: closed refuses with 503 while a member is down", async () => {
    const [m1, m2] = await Promise.all([procs.own(startMember("c1")), procs.own(startMember("c2"))]);
    const gateway = await procs.own(
      gatewayOn(`upstreams:
  c1: { replicas: [${m1.url}] }
  c2: { replicas: [${m2.url}] }
virtual:
  strict: { members: [c1, c2], onMemberFailure: closed }
health:
  interval: 200ms
`),
    );
    const s = await connect(gateway.route("strict"));
    assert.equal(
      ((await s.client.callTool({ name: "c1_count", arguments: {} })) as ToolResult).structuredContent?.calls,
      1,
    );
    await m2.stop();
    await waitFor("the virtual server to refuse", async () => {
      const res = await postInSession(gateway.route("strict"), s.transport.sessionId as string, {
        jsonrpc: "2.0",
        id: 7,
        method: "tools/list",
      });
      const body = await res.text();
      return res.status === 503 && body.includes("SWY_VIRTUAL_UNAVAILABLE") && body.includes("c2");
    });
    await s.close();
  });

  it("federates a member on the HTTP+SSE transport (2024-11-05) beside a Streamable HTTP one", async () => {
    const [legacy, old] = await Promise.all([procs.own(startMember("l")), procs.own(startReplica("old"))]);
    const gateway = await procs.own(
      gatewayOn(`upstreams:
  l: { replicas: [${legacy.url}] }
  old: { replicas: [${old.sseUrl}], transport: sse }
virtual:
  mixed: { members: [l, old] }
`),
    );
    const s = await connect(gateway.route("mixed"));
    const names = await allTools(s.client);
    assert.ok(
      names.includes("old_whoami") && names.includes("old_countdown") && names.includes("l_count"),
      names.join(", "),
    );
    const first = (await s.client.callTool({ name: "old_whoami", arguments: {} })) as ToolResult;
    const second = (await s.client.callTool({ name: "old_whoami", arguments: {} })) as ToolResult;
    assert.equal(first.structuredContent?.replica, "old");
    assert.equal(
      second.structuredContent?.sessionCalls,
      (first.structuredContent?.sessionCalls as number) + 1,
      "one stream, one session",
    );
    const progress: number[] = [];
    const done = await s.client.callTool({ name: "old_countdown", arguments: { steps: 3, delayMs: 10 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    assert.match(JSON.stringify(done.content), /done on old/);
    assert.deepEqual(progress, [1, 2, 3], "the member's progress, from its stream, reached the client");
    await s.close();
  });

  it("idle expiry ends a virtual session's member sessions with their members", async () => {
    const m = await procs.own(startMember("idle"));
    const gateway = await procs.own(
      gatewayOn(`upstreams:
  idle: { replicas: [${m.url}] }
virtual:
  v: { members: [idle] }
sessions:
  idleTtl: 1s
`),
    );
    const post = (body: unknown, sid?: string) => postInSession(gateway.route("v"), sid, body);
    const init = await post(INIT_BODY);
    const sid = init.headers.get("mcp-session-id") as string;
    const call = await post(
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "idle_count", arguments: {} } },
      sid,
    );
    assert.match(await call.text(), /"calls":1/);
    assert.equal(await m.sessions(), 1, "the member session the call opened");
    await waitFor(
      "the member session to be ended after the virtual session idled out",
      async () => (await m.sessions()) === 0,
      {
        timeoutMs: 10_000,
      },
    );
    const after = await post({ jsonrpc: "2.0", id: 3, method: "tools/list" }, sid);
    assert.equal(after.status, 404, "and the virtual session is gone: the client re-initializes");
  });

  it("continues a virtual session through a second gateway with signed ids, and no store between them", async () => {
    const m = await procs.own(startMember("t"));
    const config = writeConfig(`logLevel: warn
affinity: token
tokens:
  keys: [{ id: 1, secret: ${randomBytes(32).toString("base64")} }]
upstreams:
  t: { replicas: [${m.url}] }
virtual:
  v: { members: [t] }
`);
    const [g1, g2] = await Promise.all([
      procs.own(startGateway(["--config", config])),
      procs.own(startGateway(["--config", config])),
    ]);
    const client = new Client(
      { name: "signed", version: "1.0.0" },
      { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
    );
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: "test",
      role: "assistant",
      content: { type: "text", text: "from the client" },
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { word: "yes" } }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [] }));
    const transport = new StreamableHTTPClientTransport(new URL(g1.route("v")));
    await client.connect(transport);
    const sid = transport.sessionId as string;
    assert.ok(sid.length <= 256 && /^[A-Za-z0-9_-]+$/.test(sid), "a signed id, a valid Mcp-Session-Id");
    const count = (await client.callTool({ name: "t_count", arguments: {} })) as ToolResult;
    assert.deepEqual(count.structuredContent, { member: "t", calls: 1 });
    // The same session through the other gateway, which never saw it: the id carries what it needs —
    // the client's capabilities too: the member's own requests to the client still reach it.
    const other = new Client(
      { name: "signed", version: "1.0.0" },
      { capabilities: { sampling: {}, elicitation: {}, roots: {} } },
    );
    other.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: "test",
      role: "assistant",
      content: { type: "text", text: "via g2" },
    }));
    other.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { word: "yes" } }));
    other.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [] }));
    const through2 = new StreamableHTTPClientTransport(new URL(g2.route("v")), { sessionId: sid });
    await other.connect(through2);
    const asked = (await other.callTool({ name: "t_ask", arguments: {} })) as ToolResult;
    assert.equal(
      asked.structuredContent?.sampled,
      "via g2",
      "g2 opened its member session with the client's capabilities",
    );
    // Ended through g1: refused there from now on.
    await transport.terminateSession();
    const after = await postInSession(g1.route("v"), sid, { jsonrpc: "2.0", id: 5, method: "tools/list" });
    assert.equal(after.status, 404);
    // A token of another virtual server, or tampered, does not open.
    const tampered = `${sid.slice(0, -2)}${sid.endsWith("A") ? "B" : "A"}${sid.slice(-1)}`;
    const refused = await postInSession(g2.route("v"), tampered, { jsonrpc: "2.0", id: 6, method: "tools/list" });
    assert.equal(refused.status, 404);
    await other.close();
    await client.close();
  });

  it("continues a virtual session through a second gateway sharing Redis", async () => {
    const redis = await procs.own(startRedis());
    const m = await procs.own(startMember("r"));
    const config = writeConfig(`logLevel: warn
store: { url: ${redis.url} }
upstreams:
  r: { replicas: [${m.url}] }
virtual:
  v: { members: [r] }
`);
    const [g1, g2] = await Promise.all([
      procs.own(startGateway(["--config", config])),
      procs.own(startGateway(["--config", config])),
    ]);
    const s = await connect(g1.route("v"));
    assert.equal(
      ((await s.client.callTool({ name: "r_count", arguments: {} })) as ToolResult).structuredContent?.calls,
      1,
    );
    // The same session id, through the other gateway: the member session it holds is found in Redis.
    const other = await postInSession(g2.route("v"), s.transport.sessionId as string, {
      jsonrpc: "2.0",
      id: 9,
      method: "tools/call",
      params: { name: "r_count", arguments: {} },
    });
    assert.equal(other.status, 200);
    const text = await other.text();
    assert.match(text, /"calls":2/, "the second gateway continued the same member session");
    assert.equal(await m.sessions(), 1, "no second member session was opened");
    await s.close();
  });
});
