import type { Config } from "../config/schema.js";
import { redisOptionsFrom, usesRedis } from "../redis/client.js";
import { RedisHealthBus } from "../upstream/redis-health-bus.js";
import type { Gateway } from "./server.js";

/**
 * With a shared store, gateway replicas also share replica health: what one sees go down, all mark
 * down (with the same time, so all answer 404 for the same sessions). Nothing to share in memory mode.
 */
export async function shareHealth(gateway: Gateway, config: Config): Promise<RedisHealthBus | undefined> {
  if (!usesRedis(config)) return undefined;
  const { health } = gateway.state;
  const bus = await RedisHealthBus.connect(redisOptionsFrom(config), (route, id, at, live) => {
    // The routes as they are now (a reload may have changed them).
    const replica = gateway.state.pools.get(route)?.get(id);
    if (replica) health.peerDown(replica, at, live);
  });
  health.announce = (replica) => bus.announceDown(replica.route, replica.id, replica.downAt);
  return bus;
}
