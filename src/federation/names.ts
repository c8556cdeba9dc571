/**
 * How a virtual server names its members' tools and prompts: the prefix, the allow/deny globs, the
 * renames — and the table that maps each name a client sees back to its member and original name. Pure.
 */

export interface NamePolicy {
  /** `{member}_` by default; "" for the members' own names. */
  prefix: string;
  allow: readonly string[];
  deny: readonly string[];
  rename: Readonly<Record<string, string>>;
}

/** Where a name a client sees comes from. */
export interface Origin {
  member: string;
  name: string;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "s");
}

const compiled = new Map<string, RegExp>();
function matches(globs: readonly string[], name: string): boolean {
  return globs.some((g) => {
    let re = compiled.get(g);
    if (!re) {
      re = globToRegExp(g);
      compiled.set(g, re);
    }
    return re.test(name);
  });
}

/** The name a client sees for a member's tool or prompt; undefined when the policy withholds it (tools only). */
export function exposedName(
  policy: NamePolicy,
  member: string,
  name: string,
  kind: "tool" | "prompt",
): string | undefined {
  const prefixed = policy.prefix.replaceAll("{member}", member) + name;
  if (kind === "tool" && (!matches(policy.allow, prefixed) || matches(policy.deny, prefixed))) return undefined;
  return policy.rename[prefixed] ?? prefixed;
}

/**
 * Names a client sees → their origin, for one kind (tools, prompts, resource URIs). Built from what each
 * member lists; a name two members would both give is a collision: kept out, and reported.
 */
export class NameTable {
  private readonly byName = new Map<string, Origin>();
  private readonly clashes = new Map<string, Set<string>>();

  add(exposed: string, origin: Origin): void {
    const seen = this.byName.get(exposed);
    if (seen === undefined && !this.clashes.has(exposed)) {
      this.byName.set(exposed, origin);
      return;
    }
    const members = this.clashes.get(exposed) ?? new Set<string>();
    if (seen) members.add(seen.member);
    members.add(origin.member);
    this.clashes.set(exposed, members);
    this.byName.delete(exposed);
  }

  get(exposed: string): Origin | undefined {
    return this.byName.get(exposed);
  }

  /** Whether two members give this name (then neither is served under it). */
  collided(exposed: string): boolean {
    return this.clashes.has(exposed);
  }

  /** Each colliding name with the members that give it: `weather (from a, b)`. */
  collisions(): string[] {
    return [...this.clashes].map(([name, members]) => `${name} (from ${[...members].sort().join(", ")})`).sort();
  }
}
