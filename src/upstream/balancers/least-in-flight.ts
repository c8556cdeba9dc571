import type { Balancer } from "../balancer.js";
import type { Replica } from "../replica.js";

/** The healthy replica with the fewest requests in flight; ties go round the pool in turn. */
export class LeastInFlight implements Balancer {
  private start = 0;

  pick(replicas: readonly Replica[], exclude?: Replica): Replica | undefined {
    const n = replicas.length;
    let best: Replica | undefined;
    for (let i = 0; i < n; i++) {
      const r = replicas[(this.start + i) % n] as Replica;
      if (!r.healthy || r === exclude) continue;
      if (best === undefined || r.inFlight < best.inFlight) best = r;
    }
    this.start = (this.start + 1) % Math.max(n, 1);
    return best;
  }
}
