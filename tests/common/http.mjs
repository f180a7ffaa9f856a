// HTTP for the tests: one request on a fresh connection (or the given agent's), and raw bytes
// over TCP for requests no HTTP client would send.
import http from "node:http";
import https from "node:https";
import net from "node:net";

// Sends one request to `srv` ({host, port, scheme}). Options: method, path, headers, body
// (Buffer, string, or anything else as JSON), contentType (default for a body without a
// Content-Type header), agent (default: a fresh connection), timeout (ms).
// Resolves with { status, headers, body (Buffer), text, json (undefined unless JSON), aborted }.
// A response that arrives while the body is still being written (413) wins over the write
// error that follows; a response cut short resolves with `aborted: true`.
export function httpRequest(srv, { method = "GET", path = "/", headers = {}, body, contentType = "text/plain;charset=UTF-8", agent = false, timeout = 5000 } = {}) {
  const mod = srv.scheme === "https" ? https : http;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (!done) {
        done = true;
        fn(v);
      }
    };
    const hdrs = { ...headers };
    let payload = null;
    if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === "content-type")) hdrs["Content-Type"] = contentType;
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === "content-length")) hdrs["Content-Length"] = String(payload.length);
    }
    const result = (res, chunks, extra = {}) => {
      const b = Buffer.concat(chunks);
      const text = b.toString("utf8");
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, headers: res.headers, body: b, text, json, ...extra };
    };
    const req = mod.request(
      { host: srv.host, port: srv.port, method, path, headers: hdrs, agent, rejectUnauthorized: false },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => finish(resolve, result(res, chunks)));
        res.on("error", (e) => finish(reject, e));
        res.on("aborted", () => finish(resolve, result(res, chunks, { aborted: true })));
      },
    );
    req.setTimeout(timeout, () => {
      req.destroy(new Error(`HTTP ${method} ${path.slice(0, 120)} timed out after ${timeout} ms`));
    });
    req.on("error", (e) => finish(reject, e));
    if (payload) req.end(payload);
    else req.end();
  });
}

// Sends raw bytes on a TCP connection and collects everything until the server closes it
// (or `ms` passes): resolves with the Buffer.
export function rawHttp(srv, bytes, ms = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: srv.host, port: srv.port });
    const chunks = [];
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", (e) => {
      if (e.code === "ECONNRESET") return; // the answer collected so far is what counts
      clearTimeout(timer);
      reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on("connect", () => socket.write(bytes));
  });
}

// Requests through one keep-alive agent (one socket at most), as a client that reuses its
// connection sends them: send(method, path, {headers, body}) resolves with {status, headers,
// text, socket}, `socket` numbering the connections in the order the agent opened them.
export function keepAliveClient(srv) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let sockets = 0;
  const send = (method, path, { headers = {}, body } = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: srv.host, port: srv.port, method, path, headers, agent }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString(), socket: req.socket.chorusId }));
        res.on("error", reject);
      });
      req.on("socket", (s) => {
        if (s.chorusId === undefined) s.chorusId = ++sockets;
      });
      req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", reject);
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
}
