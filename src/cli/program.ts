import { readFileSync } from "node:fs";
import { Command, Option } from "commander";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * The command line: every subcommand and option. Subcommands load lazily: `serve` never loads the MCP
 * SDK that the bundled example server needs. Built afresh on each call (the docs test parses the
 * commands the documentation shows, with the actions left out).
 */
export function buildProgram(): Command {
  const program = new Command()
    .name("switchyard")
    .description("An MCP gateway: session-affine, streaming, for every protocol era")
    .version(pkg.version);

  program
    .command("serve")
    .description("Run the gateway")
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8080)")
    .option("--upstream <name=url[,url...]>", "a route and its replicas' MCP URLs (repeatable)", collect, [])
    .option("--config <file>", "YAML configuration file (flags override it); SIGHUP reloads it")
    .option("--watch", "reload the configuration file when it changes on disk (a ConfigMap's update included)")
    .option(
      "--store <url>",
      "session store: memory (default), redis://HOST:PORT[/DB] or redis+sentinel://HOST:PORT,…/NAME, shared by gateway replicas (a Cluster: store.cluster in the file)",
    )
    .option(
      "--admin-token <token>",
      "enable the admin API (/admin/v1) for this bearer token (or SWITCHYARD_ADMIN_TOKEN)",
    )
    .option(
      "--workers <n>",
      "processes serving the listening address: a count, or auto (the CPUs available); default 1",
    )
    .addOption(
      new Option("--log-level <level>", "log level (default info)").choices([
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "fatal",
        "silent",
      ]),
    )
    .action(async (options) => (await import("./serve.js")).runServe(options));

  program
    .command("demo")
    .description("Run two replicas of the bundled example MCP server behind the gateway (in-memory store)")
    .option("--listen <host:port>", "gateway address", "127.0.0.1:8080")
    .action(async (options) => (await import("./demo.js")).runDemo(options));

  program
    .command("example-server")
    .description("Run one replica of the bundled example MCP server (stateful, Streamable HTTP at /mcp)")
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:0")
    .option("--name <name>", "replica name the whoami tool reports", "example")
    .option("--exit-with-parent", "exit when standard input closes (used by demo and tests)")
    .addOption(
      new Option("--unknown-sessions <answer>", "what a session id it does not know gets: 404, 400 or accept (served)")
        .choices(["404", "400", "accept"])
        .default("404"),
    )
    .action(async (options) => (await import("./example-server.js")).runExampleServer(options));

  program
    .command("host")
    .description("Serve a stdio MCP server over HTTP: a process of its own per session, a warm pool for the modern era")
    .usage("[options] -- COMMAND [ARGS...]")
    .argument("<command...>", "the stdio server's command and arguments (after --)")
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:8090")
    .option("--pool <n>", "warm processes for modern-era (stateless) requests (default 2)")
    .option("--max-processes <n>", "processes at most, sessions, pool and spare together (default 32)")
    .option("--no-spare", "do not keep a process started ahead for the next session")
    .option("--start-timeout <duration>", "a new process's time to answer its first request (default 10s)")
    .option("--request-timeout <duration>", "a pooled process's time to answer (default 5m)")
    .option("--idle-ttl <duration>", "a session unused this long ends with its process (default 1h)")
    .option(
      "--env <NAME[=VALUE]>",
      "an environment variable the processes get (repeatable; nothing else but PATH)",
      collect,
      [],
    )
    .option("--workdir <dir>", "where each process gets a working directory of its own (default: a temporary one)")
    .option("--user <user>", "run the processes as this user (host runs as root)")
    .option("--group <group>", "...and this group")
    .option("--max-memory <size>", "each process's private writable memory (RLIMIT_DATA), e.g. 512MiB")
    .option("--max-cpu-seconds <n>", "CPU seconds each process may use in its life (RLIMIT_CPU)")
    .option(
      "--state-dir <dir>",
      "where process groups are recorded, to end what a crashed host left (one host per dir)",
    )
    .option("--heartbeat <duration>", "SSE heartbeat interval", "15s")
    .option("--max-body <size>", "largest request body", "4MiB")
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
        .default("info"),
    )
    .action(async (command, options) => (await import("./host.js")).runHost(command, options));

  program
    .command("check")
    .description("Audit a live MCP endpoint through whatever stands in front of it (exit 1 on any fail)")
    .argument("<url>", "the MCP endpoint, e.g. https://mcp.example.com/NAME/mcp")
    .option("--repeat <n>", "requests in the session, each on a new connection (affinity across replicas)", "10")
    .option("--idle <seconds>", "keep a diagnostic stream idle this long (Switchyard with diagnostics.enabled)", "0")
    .option("--timeout <seconds>", "time allowed for each request", "10")
    .option("--origin <origin>", "a browser origin whose access (CORS) to check")
    .option("--header <name: value>", "a header sent on every request, e.g. a credential (repeatable)", collect, [])
    .option("--ca <file>", "a PEM CA to trust (private PKI)")
    .option("--insecure", "accept any TLS certificate")
    .option("--json", "print the report as JSON (for CI)")
    .action(async (url, options) => (await import("./check.js")).runCheckCli(url, options));

  return program;
}
