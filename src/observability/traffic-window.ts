/** One route's buckets: requests and errors, and which bucket each slot holds now. */
interface Ring {
  requests: Uint32Array;
  errors: Uint32Array;
  /** The bucket number (time ÷ bucket length) each slot counts. */
  stamps: Float64Array;
}

/** Routes tracked at most (tenants' servers count one each); the rest count together under `OTHER`. */
const MAX_ROUTES = 1000;
export const OTHER = "(other)";

/**
 * Requests and errors (5xx) per route over the last minutes, in buckets of 10 s: the operator's small
 * charts, kept by the gateway itself (no Prometheus needed). Recording a request is a few array writes;
 * a slot is cleared lazily when its bucket comes round again.
 */
export class TrafficWindow {
  private readonly rings = new Map<string, Ring>();

  constructor(
    readonly bucketMs = 10_000,
    readonly buckets = 90,
    private readonly now: () => number = Date.now,
  ) {}

  record(route: string, status: number): void {
    const bucket = Math.floor(this.now() / this.bucketMs);
    const ring = this.ring(route);
    const slot = bucket % this.buckets;
    if (ring.stamps[slot] !== bucket) {
      ring.stamps[slot] = bucket;
      ring.requests[slot] = 0;
      ring.errors[slot] = 0;
    }
    (ring.requests[slot] as number)++;
    if (status >= 500) (ring.errors[slot] as number)++;
  }

  /** The route's buckets, oldest first, ending with the current one (still filling). */
  series(route: string): Array<{ at: number; requests: number; errors: number }> {
    const current = Math.floor(this.now() / this.bucketMs);
    const ring = this.rings.get(route);
    const out = [];
    for (let bucket = current - this.buckets + 1; bucket <= current; bucket++) {
      const slot = bucket % this.buckets;
      const held = ring !== undefined && ring.stamps[slot] === bucket;
      out.push({
        at: bucket * this.bucketMs,
        requests: held ? (ring.requests[slot] as number) : 0,
        errors: held ? (ring.errors[slot] as number) : 0,
      });
    }
    return out;
  }

  private ring(route: string): Ring {
    let ring = this.rings.get(route);
    if (ring) return ring;
    // Past the limit, every new route shares one ring (made then, the one past the limit).
    if (this.rings.size >= MAX_ROUTES && route !== OTHER) return this.ring(OTHER);
    ring = {
      requests: new Uint32Array(this.buckets),
      errors: new Uint32Array(this.buckets),
      stamps: new Float64Array(this.buckets).fill(-1),
    };
    this.rings.set(route, ring);
    return ring;
  }
}
