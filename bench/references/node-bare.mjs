// node-bare: the ceiling of Node's HTTP server for a request answered from memory (what a cache hit must
// do): read the POST body, parse it as JSON, answer canned JSON. No routing, no checks, no metrics.
// `node node-bare.mjs PORT ANSWER_FILE` prints {"msg":"listening"} once it listens on 127.0.0.1:PORT.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const [port, answerFile] = process.argv.slice(2);
const answer = readFileSync(answerFile);
const headers = ["content-type", "application/json", "content-length", String(answer.length)];

createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, headers).end(answer);
  });
}).listen(Number(port), "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ msg: "listening" })}\n`));
