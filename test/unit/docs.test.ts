import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Command, CommanderError } from "commander";
import { buildProgram } from "../../src/cli/program.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The documentation: the README, and every page under docs/ and deploy/. */
function pages(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return name.endsWith(".md") ? [path] : [];
    });
  return [join(ROOT, "README.md"), ...walk(join(ROOT, "docs")), ...walk(join(ROOT, "deploy"))];
}

/** A page's prose and its fenced code blocks, apart. */
function split(text: string): { prose: string[]; code: string[] } {
  const prose: string[] = [];
  const code: string[] = [];
  let fence: string | undefined;
  for (const line of text.split("\n")) {
    const opens = /^\s*(```|~~~)/.exec(line);
    if (opens) {
      if (fence === undefined) fence = opens[1];
      else if (line.trim().startsWith(fence)) fence = undefined;
      continue;
    }
    (fence === undefined ? prose : code).push(line);
  }
  return { prose, code };
}

/** GitHub's anchors for a page's headings (lowercased; punctuation dropped; spaces to hyphens; -1, -2 for repeats). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of split(text).prose) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const words = (heading[1] as string).replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "");
    const base = words
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The words of a shell command line, up to the first operator or comment (quotes honoured). */
function words(line: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else word = (word ?? "") + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else if (/\s/.test(ch)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else if ("|&;<>#".includes(ch) && word === undefined) {
      break;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** Parse `args` with the real command line, its actions left out: the error, if it does not parse. */
async function parse(args: string[]): Promise<string | undefined> {
  const program = buildProgram();
  const errors: string[] = [];
  const quiet = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeOut: () => {}, writeErr: (s) => errors.push(s) });
    c.action(() => {});
    for (const sub of c.commands) quiet(sub);
  };
  quiet(program);
  try {
    await program.parseAsync(args, { from: "user" });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError && ["commander.helpDisplayed", "commander.version"].includes(err.code)) {
      return undefined;
    }
    return errors.join("").trim() || (err as Error).message;
  }
}

describe("the documentation", () => {
  it("links only to files that exist, and to headings they have", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages()) {
      const text = readFileSync(page, "utf8");
      for (const line of split(text).prose) {
        for (const m of line.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
          const target = m[1] as string;
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
          checked++;
          const [path, anchor] = target.split("#") as [string, string | undefined];
          const file = path === "" ? page : resolve(dirname(page), decodeURIComponent(path));
          const where = `${relative(ROOT, page)}: ${target}`;
          if (!existsSync(file)) {
            broken.push(`${where} (no such file)`);
            continue;
          }
          if (anchor && file.endsWith(".md") && !anchors(readFileSync(file, "utf8")).has(anchor)) {
            broken.push(`${where} (no such heading)`);
          }
        }
      }
    }
    assert.ok(checked > 20, `only ${checked} links found`);
    assert.deepEqual(broken, [], "broken links");
  });

  it("shows only `switchyard` commands that parse", async () => {
    const bad: string[] = [];
    let checked = 0;
    for (const page of pages()) {
      // A command continued on the next line (`\` at the end) is one command.
      const lines = split(readFileSync(page, "utf8"))
        .code.join("\n")
        .replace(/\\\n\s*/g, " ")
        .split("\n");
      for (const line of lines) {
        let argv = words(line.replace(/^\s*\$\s+/, ""));
        while (argv[0] !== undefined && /^[A-Z_][A-Z0-9_]*=/.test(argv[0])) argv = argv.slice(1); // VAR=value
        if (argv[0] === "npx") argv = argv.slice(1);
        if (argv[0] !== "switchyard") continue;
        checked++;
        const error = await parse(argv.slice(1));
        if (error) bad.push(`${relative(ROOT, page)}: ${line.trim()}\n    ${error}`);
      }
    }
    assert.ok(checked > 10, `only ${checked} commands found`);
    assert.deepEqual(bad, [], "commands that do not parse");
  });

  it("checks what it says it checks: a wrong option, a missing argument, GitHub's anchors", async () => {
    assert.match((await parse(["serve", "--no-such-option"])) ?? "", /unknown option/);
    assert.match((await parse(["check"])) ?? "", /missing required argument/);
    assert.equal(await parse(["serve", "--workers", "2", "--upstream", "a=http://127.0.0.1:1/mcp"]), undefined);
    assert.deepEqual(
      anchors("# Every core: `--workers`\n## Redis\n## Redis\n```\n# not a heading\n```\n"),
      new Set(["every-core---workers", "redis", "redis-1"]),
    );
  });
});
