// A webhook receiver for alertmanager_test.sh: records every request as one JSON line
// {path, headers, body} in OUT, and answers by path: /ok 200; /flaky 500 to its first two
// requests, then 200; /redirect 302 to /ok; /hang never answers.
// Usage: node webhook_receiver.mjs OUT --port-file FILE (the port, once listening).
import { createServer } from "node:http";
import { appendFileSync, writeFileSync } from "node:fs";

const out = process.argv[2];
const portFile = process.argv[process.argv.indexOf("--port-file") + 1];
let flaky = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    appendFileSync(out, JSON.stringify({ path: req.url, headers: req.headers, body }) + "\n");
    if (req.url === "/hang") return;  // the sink's timeout ends it
    if (req.url === "/redirect") {
      res.writeHead(302, { location: "/ok" });
      return res.end();
    }
    if (req.url === "/flaky" && flaky++ < 2) {
      res.writeHead(500);
      return res.end("try again");
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
});
server.listen(0, "127.0.0.1", () => writeFileSync(portFile, server.address().port + "\n"));
process.on("SIGTERM", () => process.exit(0));
