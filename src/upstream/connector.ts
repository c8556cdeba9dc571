import { promises as dns, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { buildConnector } from "undici";
import { type AddressPolicy, isAllowedHost, refusal } from "../security/address-policy.js";

/** Resolves a host name to every address it has (injectable for tests). */
export type Resolver = (hostname: string) => Promise<string[]>;

export interface AddressGuard {
  policy: AddressPolicy;
  resolve?: Resolver;
}

const systemResolver: Resolver = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** A refused destination: never connected to. */
export function addressRefused(host: string, why: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`refused to connect to ${host}: ${why}`);
  err.code = "SWY_ADDRESS_REFUSED";
  return err;
}

/**
 * DNS for guarded connections: resolve once, check **every** address, hand the checked addresses to the
 * socket (which connects to them: no second lookup). No address, or a resolver error, refuses.
 */
function guardedLookup(guard: AddressGuard): LookupFunction {
  const resolve = guard.resolve ?? systemResolver;
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) return callback(addressRefused(hostname, "no address"), "", 0);
        const hostAllowed = isAllowedHost(hostname, guard.policy);
        for (const a of addresses) {
          const why = refusal(a, guard.policy, hostAllowed);
          if (why !== undefined) return callback(addressRefused(hostname, `${a} is ${why}`), "", 0);
        }
        if (options.all) {
          const all: LookupAddress[] = addresses.map((address) => ({ address, family: isIP(address) }));
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, all);
        } else {
          callback(null, addresses[0] as string, isIP(addresses[0] as string));
        }
      },
      (err: Error) => callback(addressRefused(hostname, `DNS failed (${err.message})`), "", 0),
    );
  };
}

/** A connection that has carried no request this long after connecting is closed. */
const UNUSED_CONNECTION_MS = 2_000;

/**
 * How the gateway opens connections to a replica — with `guard`, only to addresses the SSRF policy
 * allows, checked at connect time (DNS pinned, literal addresses included).
 *
 * It also closes connections that never carry a request. undici 7 re-queues a request aborted while its
 * response streams (a client leaving an SSE stream), reconnects for it, then drops it: the new socket
 * has no keep-alive timer and would stay open for good (nodejs/undici#5845). One such socket per client
 * that leaves would exhaust descriptors; a request is written the moment a connection opens, so a
 * socket with nothing written after a while is one of those.
 */
export function createConnector(
  connectTimeoutMs: number,
  guard?: AddressGuard,
  servername?: string,
): buildConnector.connector {
  const base = buildConnector({ timeout: connectTimeoutMs, ...(guard ? { lookup: guardedLookup(guard) } : {}) });
  return (given, callback) => {
    // A replica found by DNS is reached at its address, and its certificate checked against the name.
    const options = servername === undefined ? given : { ...given, servername };
    if (guard) {
      // Literal addresses never go through a lookup: check them here.
      const host = options.hostname.replace(/^\[(.*)\]$/, "$1");
      const why = isIP(host) ? refusal(host, guard.policy) : undefined;
      if (why !== undefined) {
        callback(addressRefused(host, why), null);
        return;
      }
    }
    base(options, (err, socket) => {
      if (socket) {
        const timer = setTimeout(() => {
          if (socket.bytesWritten === 0) socket.destroy();
        }, UNUSED_CONNECTION_MS);
        timer.unref();
        socket.once("close", () => clearTimeout(timer));
      }
      if (err) callback(err, null);
      else callback(null, socket as NonNullable<typeof socket>);
    });
  };
}
