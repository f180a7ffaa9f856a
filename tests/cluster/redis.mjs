// A redis-server of its own for the cluster suite: started on 127.0.0.1 at a free port with
// nothing persisted, stopped, or killed and started again on the same port (the nodes must
// reconnect to it), plus one-shot commands and a pattern subscriber to watch the traffic.
import { spawn } from "node:child_process";
import net from "node:net";
import { createClient } from "redis";
import { freePort, sleep, unrefSleep } from "../common/util.mjs";

export const REDIS_SERVER = process.env.CHORUS_REDIS_SERVER ?? "/usr/bin/redis-server";

// One command on a fresh connection: resolves with the reply (simple and bulk strings as
// strings, integers as numbers, arrays as arrays, nil as null); a Redis error reply rejects.
// Arguments are strings (or anything String() turns into one) or Buffers (sent as they are).
export function redisCommand(port, args, { timeoutMs = 2_000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let buf = Buffer.alloc(0);
    const fail = (e) => {
      sock.destroy();
      reject(e);
    };
    sock.setTimeout(timeoutMs, () => fail(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`)));
    sock.once("error", fail);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      let parsed;
      try {
        parsed = parseReply(buf, 0);
      } catch (e) {
        return fail(e);
      }
      if (!parsed) return;
      sock.destroy();
      if (parsed.value instanceof Error) reject(parsed.value);
      else resolve(parsed.value);
    });
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const s = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(`$${s.length}\r\n`, s, "\r\n");
    }
    sock.write(Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))));
  });
}

// RESP2: {value, end} or null when `buf` does not hold a whole reply yet.
function parseReply(buf, at) {
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return null;
  const kind = String.fromCharCode(buf[at]);
  const line = buf.toString("utf8", at + 1, eol);
  const next = eol + 2;
  switch (kind) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(`redis: ${line}`), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString("utf8", next, next + n), end: next + n + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, pos);
        if (!item) return null;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`redis: unexpected reply ${JSON.stringify(buf.toString("utf8", at, Math.min(buf.length, at + 40)))}`);
  }
}

export class RedisServer {
  constructor(port) {
    this.port = port;
    this.proc = null;
    this.output = "";
    this.exited = null;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  // Starts redis-server on this.port and resolves once it answers PING.
  async start({ timeoutMs = 10_000 } = {}) {
    this.output = "";
    const proc = spawn(REDIS_SERVER, ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    const keep = (d) => {
      if (this.output.length < 64 * 1024) this.output += d;
    };
    proc.stdout.setEncoding("utf8").on("data", keep);
    proc.stderr.setEncoding("utf8").on("data", keep);
    this.exited = new Promise((resolve) => proc.once("close", (code, signal) => resolve({ code, signal })));
    proc.once("error", (e) => (this.output += `\nspawn ${REDIS_SERVER}: ${e.message}`));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        const err = new Error(`redis-server on port ${this.port} exited before answering PING:\n${this.output}`);
        err.addressInUse = /address already in use/i.test(this.output);
        throw err;
      }
      try {
        if ((await redisCommand(this.port, ["PING"], { timeoutMs: 500 })) === "PONG") return this;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms:\n${this.output}`);
      }
      await sleep(25);
    }
  }

  async stop(signal = "SIGTERM") {
    if (!this.proc) return;
    const proc = this.proc;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      const res = await Promise.race([this.exited, unrefSleep(5_000).then(() => null)]);
      if (!res) proc.kill("SIGKILL");
    }
    await this.exited;
    this.proc = null;
  }

  // kill -9, then a new redis-server on the same port (empty: nothing was persisted). Retries
  // while the port is still held.
  async restart() {
    await this.stop("SIGKILL");
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await this.start();
      } catch (e) {
        if (!e.addressInUse || Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
  }

  command(...args) {
    return redisCommand(this.port, args);
  }

  // PUBSUB NUMSUB: {channel: subscriber count}.
  async numsub(...channels) {
    const reply = await this.command("PUBSUB", "NUMSUB", ...channels);
    const out = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[reply[i]] = Number(reply[i + 1]);
    return out;
  }

  // A subscriber for `pattern` (PSUBSCRIBE): resolves, once subscribed, with
  // {messages: [{channel, message (Buffer)}], close()}.
  async monitor(pattern) {
    const client = createClient({ url: this.url, socket: { reconnectStrategy: false } });
    client.on("error", () => {});
    await client.connect();
    const messages = [];
    await client.pSubscribe(pattern, (message, channel) => messages.push({ channel: String(channel), message }), true);
    return {
      messages,
      close: async () => {
        if (client.isOpen) await client.close().catch(() => {});
      },
    };
  }
}

// A redis-server at a free port (tries another port if that one was taken meanwhile).
export async function startRedis() {
  for (let attempt = 0; ; attempt++) {
    const server = new RedisServer(await freePort());
    try {
      return await server.start();
    } catch (e) {
      if (!e.addressInUse || attempt >= 5) throw e;
    }
  }
}
