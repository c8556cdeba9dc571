import { connectSoon, newRedisClient, type RedisOptions } from "../redis/client.js";

/** `live`: announced just now; otherwise read back from the record (only its time still matters). */
export type PeerDown = (route: string, replica: string, at: number, live: boolean) => void;

/**
 * Replica health shared by every gateway through Redis: when one gateway sees a replica go down it
 * publishes when (`<prefix>health`) and records it (`<prefix>down`, read back by gateways that start later
 * or reconnect), so every gateway answers 404 for that replica's older sessions at once.
 */
export class RedisHealthBus {
  private constructor(
    private readonly client: ReturnType<typeof newRedisClient>,
    private readonly subscriber: ReturnType<typeof newRedisClient>,
    private readonly prefix: string,
  ) {}

  static async connect(options: RedisOptions, onPeerDown: PeerDown): Promise<RedisHealthBus> {
    const prefix = options.prefix ?? "swy:";
    const bus = new RedisHealthBus(newRedisClient(options), newRedisClient(options), prefix);
    const apply = (field: string, at: string, live: boolean) => {
      const sep = field.indexOf(" ");
      if (sep > 0 && Number.isFinite(Number(at))) {
        onPeerDown(field.slice(0, sep), field.slice(sep + 1), Number(at), live);
      }
    };
    // On every (re)connection, catch up on what was announced meanwhile.
    bus.client.on("ready", () => {
      bus.client.hGetAll(`${prefix}down`).then(
        (all) => {
          for (const [field, at] of Object.entries(all)) apply(field, String(at), false);
        },
        () => {},
      );
    });
    await connectSoon(
      Promise.all([
        bus.client.connect(),
        bus.subscriber.connect().then(() =>
          bus.subscriber.subscribe(`${prefix}health`, (message) => {
            const sep = message.lastIndexOf(" ");
            apply(message.slice(0, sep), message.slice(sep + 1), true);
          }),
        ),
      ]),
    );
    return bus;
  }

  /** Tell every gateway that `replica` of `route` went down at `at` (best effort: Redis may be away). */
  announceDown(route: string, replica: string, at: number): void {
    const field = `${route} ${replica}`;
    this.client
      .hSet(`${this.prefix}down`, field, String(at))
      .then(() => this.client.publish(`${this.prefix}health`, `${field} ${at}`))
      .catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.all([this.client, this.subscriber].map((c) => (c.isOpen ? c.close().catch(() => {}) : undefined)));
  }
}
