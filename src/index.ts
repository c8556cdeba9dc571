/** The public API of the `switchyard` package. Explicit named exports only. */
export { ConfigError, type ConfigFlags, loadConfig } from "./config/load.js";
export { type Config, type ConfigInput, configSchema } from "./config/schema.js";
export { ERRORS, type ErrorCode, SwitchyardError } from "./errors.js";
export { createGateway, type Gateway } from "./gateway/server.js";
export { type EventMap, type EventName, subscribe } from "./observability/events.js";
export { type OtlpSettings, startOtlp } from "./observability/tracing.js";
export { MemorySessionStore } from "./sessions/memory-store.js";
export type { SessionRecord, SessionStore } from "./sessions/store.js";
