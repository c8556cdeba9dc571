/**
 * `switchyard/ha`: run a stateful MCP server (TypeScript SDK v1) on many replicas behind any load
 * balancer. Explicit exports only.
 */
export { createHaHandler, type HaHandler, type HaOptions, OUTCOME_UNKNOWN } from "./handler.js";
export { RedisServerEventBus, type ServerEventLike } from "./redis-event-bus.js";
export { RedisEventStore, type RedisEventStoreOptions } from "./redis-event-store.js";
