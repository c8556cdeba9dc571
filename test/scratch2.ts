import { startDeployment, redisCli } from "./helpers/redis-topologies.js";
const d = await startDeployment("sentinel");
const c = await d.client();
await c.set("a", "1");
await d.wipe();
for (let i = 0; i < 8; i++) {
  await c.set(`k${i}`, "1").catch((e) => console.log("set failed", String(e).slice(0, 60)));
  const rows = [];
  for (const n of d.sentinel!.nodes) {
    const info = await redisCli(n.port, "INFO", "replication").catch(() => "down");
    rows.push(`${n.port} ${/role:(\w+)/.exec(info)?.[1]} link=${/master_link_status:(\w+)/.exec(info)?.[1] ?? "-"} slaves=${/connected_slaves:(\d+)/.exec(info)?.[1] ?? "-"} keys=${await redisCli(n.port, "DBSIZE").catch(() => "x")}`);
  }
  const m = await redisCli(d.sentinel!.sentinels[0]!.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "swymaster");
  console.log(i, m.replace("\n", ":"), rows.join(" | "));
  await new Promise((r) => setTimeout(r, 700));
}
await d.stop(); process.exit(0);
