import assert from "node:assert/strict";
import { isGateway404, type Whoami } from "./mcp.js";
import type { ExampleReplica, GatewayProc } from "./procs.js";

/** The gateway's codes for a session it will not route: its replica is gone, or it forgot it since. */
export const GONE = ["SWY_SESSION_REPLICA_GONE", "SWY_SESSION_NOT_FOUND"] as const;

/**
 * Before a fault: the session really lives on `owner` — its `whoami` says so, and the replica itself
 * counts requests that named the session.
 */
export async function assertLivesOn(answer: Whoami, owner: ExampleReplica): Promise<void> {
  assert.equal(answer.replica, owner.name, "the session lives on the replica about to go");
  assert.ok(answer.session, "the replica reports the session's id (hashed)");
  assert.ok((await owner.sawSession(answer.session)) > 0, "the owner saw the session's requests");
}

/**
 * After its replica is gone: the session is refused by the gateway itself (404 with `SWY_SESSION_*`, not
 * a replica's own 404 or 400), and none of `others` was ever asked about it — never a silent move.
 */
export async function assertGoneNotMoved(
  call: () => Promise<unknown>,
  answer: Whoami,
  others: ExampleReplica[],
  codes: readonly string[] = GONE,
): Promise<void> {
  await assert.rejects(call(), isGateway404(...codes), "the gateway's own 404, never a silent move");
  for (const other of others) {
    assert.equal(await other.sawSession(answer.session), 0, `${other.name} was never asked about the session`);
  }
}

/** The replicas still running (a killed one can no longer be asked what it saw). */
export function running(replicas: ExampleReplica[]): ExampleReplica[] {
  return replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
}

/** How many replicas of `route` a gateway counts healthy, by its `/readyz`. */
export async function healthyReplicas(gateway: GatewayProc, route = "svc"): Promise<number | undefined> {
  const ready = (await (await fetch(`${gateway.base}/readyz`)).json()) as {
    routes: Record<string, { healthy: number }>;
  };
  return ready.routes[route]?.healthy;
}
