// Minimal static file server for the demo command until chorus-server serves the demo.
// Usage: node serve_static.mjs <port> <url-prefix>=<dir> ...   (loopback only)
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const port = Number(process.argv[2]);
const mounts = process.argv.slice(3).map((m) => { const [p, d] = m.split("="); return [p, path.resolve(d)]; });
const types = { ".html": "text/html; charset=utf-8", ".mjs": "text/javascript", ".js": "text/javascript",
  ".wasm": "application/wasm", ".css": "text/css", ".json": "application/json" };
http.createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
  for (const [prefix, dir] of mounts) {
    if (!url.startsWith(prefix)) continue;
    let file = path.join(dir, url.slice(prefix.length));
    if (!file.startsWith(dir)) break;
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!fs.existsSync(file)) break;
    res.writeHead(200, { "Content-Type": types[path.extname(file)] || "application/octet-stream" });
    return fs.createReadStream(file).pipe(res);
  }
  res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
}).listen(port, "127.0.0.1", () => console.log(`Chorus demo: http://127.0.0.1:${port}/`));
