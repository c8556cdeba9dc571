import type { Gateway } from "../gateway/server.js";
import { subscribe } from "../observability/events.js";
import type { PrimaryChannel } from "./ipc.js";

/**
 * Replica state under `--workers`: one gateway, one view.
 * - Health: the worker the primary names leads the active checks; every change any worker sees (a check,
 *   a refused connection, a recovery) goes to the primary, which tells every other worker at once; a
 *   worker that starts is told the state as it is.
 * - Membership: every worker resolves the DNS entries, and the first to see a new answer hands it to the
 *   others, so a replica joins, drains or leaves in every worker at once (its health then decides the
 *   rest, as above). A worker that starts is told the replicas the others still drain.
 * A change applied from another worker is not sent back.
 */
export function shareReplicasAcrossWorkers(gateway: Gateway, primary: PrimaryChannel): void {
  const { health } = gateway.state;
  health.lead(false); // until the primary says this worker leads
  let applying = false;
  const apply = (change: () => void) => {
    applying = true;
    try {
      change();
    } finally {
      applying = false;
    }
  };
  subscribe("replica", (e) => {
    if (applying) return;
    const replica = gateway.state.pools.get(e.route)?.get(e.replica);
    primary.send({
      swy: "health",
      state: { route: e.route, replica: e.replica, healthy: e.healthy, downAt: replica?.downAt ?? Date.now() },
    });
  });
  subscribe("membership", (e) => {
    if (!applying) primary.send({ swy: "membership", route: e.route, replica: e.replica, state: e.state });
  });
  subscribe("answer", (answer) => {
    if (!applying) primary.send({ swy: "dns", answer });
  });
  primary.onTell((tell) => {
    if (tell.op === "health.lead") health.lead(tell.lead);
    if (tell.op === "membership.draining") {
      const { route, replica } = tell;
      apply(() => gateway.state.pools.get(route)?.adoptDraining(replica));
    }
    if (tell.op === "dns.answer") {
      const { route, name, replicas } = tell.answer;
      apply(() => gateway.state.pools.get(route)?.adoptAnswer(name, replicas));
    }
    if (tell.op !== "health.state") return;
    const { route, replica: id, healthy, downAt } = tell.state;
    const replica = gateway.state.pools.get(route)?.get(id);
    if (!replica) return;
    apply(() => (healthy ? replica.markUp() : health.peerDown(replica, downAt, true)));
  });
}
