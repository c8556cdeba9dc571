import { randomBytes } from "node:crypto";

/**
 * A `switchyard/ha` session id: `<node>.<random>`. The node that created the session is its routing
 * hint (seed 002, "session partitioning"): a gateway sends the session's requests there while it lives.
 */
export function haSessionId(node: string): string {
  return `${node}.${randomBytes(18).toString("base64url")}`;
}

/** The node a session id names, or undefined for an id that is not one of ours. */
export function haNodeOf(sessionId: string): string | undefined {
  const dot = sessionId.indexOf(".");
  return dot > 0 ? sessionId.slice(0, dot) : undefined;
}

/** On every answer of a node, its name: a gateway learns which replica is which node. */
export const NODE_HEADER = "x-switchyard-ha-node";
