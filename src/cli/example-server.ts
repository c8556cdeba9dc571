import { startExampleServer, type UnknownSessions } from "../example/server.js";
import { splitHostPort } from "../gateway/server.js";
import { onShutdown } from "./serve.js";

export async function runExampleServer(options: {
  listen: string;
  name: string;
  exitWithParent?: boolean;
  unknownSessions?: UnknownSessions;
}) {
  const { host, port } = splitHostPort(options.listen);
  const server = await startExampleServer({ host, port, name: options.name, unknownSessions: options.unknownSessions });
  process.stdout.write(
    `${JSON.stringify({ msg: "listening", url: server.url, sseUrl: server.sseUrl, name: options.name })}\n`,
  );
  if (options.exitWithParent) {
    process.stdin.on("end", () => process.exit(0));
    process.stdin.resume();
  }
  onShutdown(() => server.close());
}
