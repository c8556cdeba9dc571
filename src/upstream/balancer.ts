import { LeastInFlight } from "./balancers/least-in-flight.js";
import { RoundRobin } from "./balancers/round-robin.js";
import type { Replica } from "./replica.js";

/** Picks a healthy replica for a new session or a session-less request. One file per strategy. */
export interface Balancer {
  pick(replicas: readonly Replica[], exclude?: Replica): Replica | undefined;
}

export type BalancerName = "least-in-flight" | "round-robin";

export function createBalancer(name: BalancerName): Balancer {
  switch (name) {
    case "least-in-flight":
      return new LeastInFlight();
    case "round-robin":
      return new RoundRobin();
  }
}
