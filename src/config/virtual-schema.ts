import { z } from "zod";

/** A tool or prompt name as a client sees it (MCP: 1-128 of letters, digits, `_`, `-`, `.`, `/`). */
const NAME = /^[A-Za-z0-9_./-]{1,128}$/;

/** `*` for any run of characters, `?` for one: the globs of `tools.allow` / `tools.deny`. */
const glob = z.string().min(1).max(256);

/** A virtual server (federation): one MCP endpoint for the tools, prompts and resources of several routes. */
export const virtualSchema = z
  .strictObject({
    members: z
      .array(z.string().min(1))
      .min(1, "needs at least one member route")
      .describe(
        "The routes (`upstreams.NAME`, any transport, any protocol era) whose tools, prompts and resources this endpoint serves together.",
      ),
    prefix: z
      .string()
      .max(64)
      .default("{member}_")
      .describe(
        'Put before every tool and prompt name of a member (`{member}` stands for its route name), so that names cannot collide; `""`: names as the members give them, and a collision refuses the configuration (at start and on reload) with the colliding names. Resource URIs are never changed: a collision among them is refused the same way.',
      ),
    tools: z
      .strictObject({
        allow: z.array(glob).default(["*"]).describe("Tools served (globs over the prefixed names)."),
        deny: z.array(glob).default([]).describe("Tools withheld, even if allowed (globs over the prefixed names)."),
      })
      .prefault({})
      .describe("Which members' tools this endpoint serves."),
    rename: z
      .record(z.string().regex(NAME), z.string().regex(NAME, "must be a valid tool or prompt name"))
      .default({})
      .describe("Tools and prompts served under another name: `{ PREFIXED_NAME: NEW_NAME }`."),
    onMemberFailure: z
      .enum(["open", "closed"])
      .default("open")
      .describe(
        "A member that cannot be reached: `open` — its tools leave the lists (clients are told) and a call of one gets a JSON-RPC error naming the member, while the others serve on; `closed` — the whole endpoint answers 503 until the member is back.",
      ),
    serverInfo: z
      .strictObject({
        name: z.string().min(1).max(128),
        version: z.string().min(1).max(64).default("1.0.0"),
        title: z.string().max(256).optional(),
      })
      .optional()
      .describe("What `initialize` and `server/discover` say the server is (default: the virtual server's name)."),
    instructions: z
      .string()
      .max(16_384)
      .optional()
      .describe("Instructions for the client, put before the members' own (each under its member's name)."),
  })
  .describe("A virtual server served at `/NAME/mcp`: the tools, prompts and resources of its member routes.");

export type VirtualConfig = z.output<typeof virtualSchema>;
