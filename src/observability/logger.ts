import { pino } from "pino";
import { workerSlot } from "../workers/worker.js";
import { subscribe } from "./events.js";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/**
 * The process log: JSON lines on stdout, subscribed to the gateway's events. Request lines are `info`
 * (so `warn` keeps the hot path quiet); refusals of the gateway's own are `info` too, faults `warn`.
 */
export function attachLogger(level: LogLevel): { logger: pino.Logger; detach: () => void } {
  const worker = workerSlot();
  const logger = pino({
    level,
    base: { pid: process.pid, ...(worker ? { worker } : {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  const offs: Array<() => void> = [];
  if (logger.isLevelEnabled("info")) {
    offs.push(subscribe("request", (e) => logger.info({ ...e, msg: undefined }, "request")));
    offs.push(subscribe("session", (e) => logger.info(e, `session ${e.action}`)));
  }
  offs.push(subscribe("replica", (e) => (e.healthy ? logger.info(e, "replica up") : logger.warn(e, "replica down"))));
  offs.push(subscribe("membership", (e) => logger.info(e, `replica ${e.state}`)));
  offs.push(
    subscribe("resolution", (e) => {
      // Once per change of outcome: a resolver that keeps failing is one line, not one per period.
      if (!e.changed) return;
      if (e.outcome === "ok") logger.info(e, "dns answer");
      else logger.warn(e, e.outcome === "gone" ? "dns name gone" : "dns resolution failed");
    }),
  );
  offs.push(
    subscribe("lifecycle", (e) => {
      // A worker's listening is its primary's to announce, once for the whole gateway.
      if (worker && e.event === "listening") return;
      // Written even when the level is above info: harnesses and operators read the listening address.
      const line = { level: 30, time: new Date().toISOString(), pid: process.pid, ...e, msg: e.event };
      if (logger.isLevelEnabled("info")) logger.info(e, e.event);
      else if (e.event === "listening") process.stdout.write(`${JSON.stringify(line)}\n`);
    }),
  );
  offs.push(subscribe("fault", (e) => logger.warn(e, "fault")));
  offs.push(
    subscribe("config", (e) =>
      e.outcome === "applied"
        ? logger.info(e, "configuration reloaded")
        : logger.error(e, "configuration refused: the running one stays"),
    ),
  );
  offs.push(subscribe("ssrf", (e) => logger.warn(e, "ssrf refusal")));
  offs.push(
    subscribe("process", (e) => {
      // `switchyard host`'s processes: a crash is a warning; a child's stderr is logged as its own line.
      if (e.event === "exited" && e.crashed) logger.warn(e, "process crashed");
      else if (e.event === "stderr") logger.info(e, e.line === undefined ? "stderr lines dropped" : "stderr");
      else logger.info(e, `process ${e.event}`);
    }),
  );
  return {
    logger,
    detach: () => {
      for (const off of offs) off();
    },
  };
}
