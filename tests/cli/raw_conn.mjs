// Raw TCP connections to a chorus-server for the front-door suites: bytes written as given,
// from a chosen loopback address (Linux routes all of 127/8 to lo), and the answers read as
// they come. `raise` tells what to do when the process runs out of descriptors.
import net from "node:net";
import tls from "node:tls";

export class RawConn {
  // Resolves once connected (`secure`: over TLS, once its handshake is done).
  static open(server, { from = "127.0.0.1", secure = false } = {}) {
    return new Promise((resolve, reject) => {
      const c = new RawConn();
      const options = { port: server.port, host: server.host, localAddress: from };
      c.sock = secure ? tls.connect({ ...options, rejectUnauthorized: false }) : net.connect(options);
      c.sock.once(secure ? "secureConnect" : "connect", () => resolve(c));
      c.sock.once("error", (e) => {
        if (e.code === "EMFILE") e.message += " (the front-door tests need about 5,000 descriptors: ulimit -n)";
        c.error = e;
        reject(e);
      });
      c.sock.on("data", (d) => {
        c.data += d.toString("latin1");
        c.wake();
      });
      c.sock.on("close", () => {
        c.closed = true;
        c.closedAt = Date.now();
        c.wake();
      });
    });
  }

  constructor() {
    this.data = "";
    this.closed = false;
    this.closedAt = 0;
    this.waiters = [];
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  write(bytes) {
    if (!this.sock.destroyed) this.sock.write(bytes);
  }

  // Resolves when `cond(this)` holds (checked on every arrival and on close); rejects after
  // `ms` with `what`.
  until(cond, ms, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms; got ${JSON.stringify(this.data.slice(0, 300))}, closed: ${this.closed}`)), ms);
      const check = () => {
        if (cond(this)) {
          clearTimeout(timer);
          resolve(this);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  // The answers received so far: [{status, headers, body}] (bodies by Content-Length).
  responses() {
    const out = [];
    let rest = this.data;
    for (;;) {
      const end = rest.indexOf("\r\n\r\n");
      if (end < 0) break;
      const lines = rest.slice(0, end).split("\r\n");
      const headers = {};
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      const length = Number(headers["content-length"] ?? 0);
      if (rest.length < end + 4 + length) break;
      out.push({ status: Number(lines[0].split(" ")[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
      rest = rest.slice(end + 4 + length);
    }
    return out;
  }

  // Resolves with the `n`th answer (1-based) once it arrived whole.
  response(n = 1, ms = 5_000) {
    return this.until((c) => c.responses().length >= n, ms, `answer ${n}`).then((c) => c.responses()[n - 1]);
  }

  closedWithin(ms) {
    return this.until((c) => c.closed, ms, "close");
  }

  destroy() {
    this.sock.destroy();
  }
}

export const getHead = (path = "/api/health", extra = "") => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
export const postHead = (path, length, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

// Opens `count` connections from `from`, `batch` at a time.
export async function openMany(server, count, { from = "127.0.0.1", secure = false, batch = 200 } = {}) {
  const conns = [];
  for (let i = 0; i < count; i += batch) {
    conns.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => RawConn.open(server, { from, secure })))));
  }
  return conns;
}
