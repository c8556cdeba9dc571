import type { Gateway } from "../gateway/server.js";
import { subscribe } from "../observability/events.js";
import type { PrimaryChannel } from "./ipc.js";

/**
 * Replica health under `--workers`: one gateway, one view. The worker the primary names leads the active
 * checks; every change any worker sees (a check, a refused connection, a recovery) goes to the primary,
 * which tells every other worker at once; a worker that starts is told the state as it is. A change
 * applied from another worker is not sent back.
 */
export function shareHealthAcrossWorkers(gateway: Gateway, primary: PrimaryChannel): void {
  const { health } = gateway.state;
  health.lead(false); // until the primary says this worker leads
  let applying = false;
  subscribe("replica", (e) => {
    if (applying) return;
    const replica = gateway.state.pools.get(e.route)?.get(e.replica);
    primary.send({
      swy: "health",
      state: { route: e.route, replica: e.replica, healthy: e.healthy, downAt: replica?.downAt ?? Date.now() },
    });
  });
  primary.onTell((tell) => {
    if (tell.op === "health.lead") health.lead(tell.lead);
    if (tell.op !== "health.state") return;
    const { route, replica: id, healthy, downAt } = tell.state;
    const replica = gateway.state.pools.get(route)?.get(id);
    if (!replica) return;
    applying = true;
    try {
      if (healthy) replica.markUp();
      else health.peerDown(replica, downAt, true);
    } finally {
      applying = false;
    }
  });
}
