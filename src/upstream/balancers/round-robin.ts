import type { Balancer } from "../balancer.js";
import type { Replica } from "../replica.js";

/** Each healthy replica in turn. */
export class RoundRobin implements Balancer {
  private next = 0;

  pick(replicas: readonly Replica[], exclude?: Replica): Replica | undefined {
    const n = replicas.length;
    for (let i = 0; i < n; i++) {
      const r = replicas[(this.next + i) % n] as Replica;
      if (r.healthy && r !== exclude) {
        this.next = (this.next + i + 1) % n;
        return r;
      }
    }
    return undefined;
  }
}
