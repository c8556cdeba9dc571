/**
 * node-redis's command timeout covers only the wait before a command is written: once written, a Redis
 * that hangs (SIGSTOP, a stalled VM, a partition that drops packets without a reset) leaves the reply
 * pending for as long as the TCP connection lives — minutes. Every command through this guard races the
 * deadline instead. After one misses it the guard trips: commands fail at once, so nothing more piles up
 * on a hung connection and no request waits, while one PING at a time asks whether Redis answers again.
 * A reconnection (`ready`) or an answered PING closes it. (So a blocking command — BLPOP, XREAD BLOCK —
 * has no place on such a client: it would trip the guard.)
 */
export class RedisTimeoutError extends Error {
  readonly code = "ERR_REDIS_TIMEOUT"; // internal: a request gets SWY_STORE_UNAVAILABLE
  constructor(timeoutMs: number, tripped: boolean) {
    super(
      tripped
        ? "Redis did not answer a recent command; waiting until it answers again"
        : `Redis did not answer within ${timeoutMs} ms`,
    );
  }
}

/**
 * What is not a command: the connection's life, subscriptions (they live on the connection and never hold
 * a request), events, and the client's own helpers. Everything else a client has is a command.
 */
const NOT_COMMANDS = new Set([
  ..."connect close destroy quit disconnect duplicate ref unref".split(" "),
  ..."subscribe unsubscribe psubscribe punsubscribe ssubscribe sunsubscribe".split(" "),
  ..."on once off addlistener removelistener removealllisteners prependlistener prependoncelistener".split(" "),
  ..."emit listeners rawlisteners listenercount eventnames setmaxlisteners getmaxlisteners".split(" "),
  ..."scaniterator hscaniterator sscaniterator zscaniterator".split(" "),
  ..."withcommandoptions withtypemapping withabortsignal asap legacy".split(" "),
]);

interface Guardable {
  on(event: "ready", listener: () => void): unknown;
  ping(): Promise<unknown>;
  readonly isOpen: boolean;
}

/** `client`, with every command raced against `timeoutMs` (and `multi().exec()` too). */
export function withDeadline<C extends Guardable>(client: C, timeoutMs: number): C {
  let tripped = false;
  let probing: NodeJS.Timeout | undefined;
  const reset = () => {
    tripped = false;
    clearTimeout(probing);
    probing = undefined;
  };
  const probe = () => {
    probing = setTimeout(
      () => {
        if (!tripped || !client.isOpen) return reset();
        race(client.ping()).then(reset, probe);
      },
      Math.min(timeoutMs, 500),
    );
    probing.unref();
  };
  const race = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => {}); // a reply that comes after the deadline (or never) is nobody's business
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (!tripped) {
          tripped = true;
          probe();
        }
        reject(new RedisTimeoutError(timeoutMs, false));
      }, timeoutMs);
      timer.unref();
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  };
  const guarded = <T>(call: () => T): T => {
    if (tripped) return Promise.reject(new RedisTimeoutError(timeoutMs, true)) as T;
    const result = call();
    return isPromise(result) ? (race(result) as T) : result;
  };
  client.on("ready", reset);

  // A transaction's commands chain (`multi().hDel(…).hDel(…)` returns the transaction itself): they run on
  // the transaction, and `exec` is raced.
  const wrapMulti = <M extends object>(multi: M): M => {
    const wrapped: M = new Proxy(multi, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== "function") return value;
        if (key === "exec" || key === "execAsPipeline") {
          return (...args: unknown[]) => guarded(() => Reflect.apply(value, target, args));
        }
        return (...args: unknown[]) => {
          const result = Reflect.apply(value, target, args);
          return result === target ? wrapped : result;
        };
      },
    });
    return wrapped;
  };

  return new Proxy(client, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function" || typeof key !== "string") return value;
      const name = key.toLowerCase();
      if (NOT_COMMANDS.has(name)) return value.bind(target);
      if (name === "multi") return (...args: unknown[]) => wrapMulti(Reflect.apply(value, target, args) as object);
      return (...args: unknown[]) => guarded(() => Reflect.apply(value, target, args));
    },
  });
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
