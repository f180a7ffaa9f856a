// A raw TCP WebSocket client: RFC 6455 frames built and parsed by hand, for byte-level tests
// (bad frames, close codes, masking) that a WebSocket library would refuse to send.
import crypto from "node:crypto";
import net from "node:net";
import { Queue, unrefSleep } from "./util.mjs";

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// A client frame: masked unless mask === false. `length` (a number or BigInt) overrides the
// declared payload length; `lengthBits` (7, 16 or 64) forces a length form, shortest otherwise.
export function buildFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, maskKey, length, lengthBits } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
  const len = length ?? data.length;
  const bits = lengthBits ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  let header;
  if (bits === 7) {
    header = Buffer.alloc(2);
    header[1] = Number(len);
  } else if (bits === 16) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(Number(len), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = maskKey ?? crypto.randomBytes(4);
  const masked = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, masked]);
}

export function closePayload(code, reason = "") {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export class RawWs {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = new Queue();
    this.ended = false;
    this.error = null;
    this.bytesRead = 0;
    this.endedPromise = new Promise((r) => (this._resolveEnded = r));
  }

  // Opens a TCP connection to `srv` ({host, port, path}) and performs the opening handshake.
  // Options: query (Engine.IO query below srv.path, default websocket transport), path (full
  // request target instead), headers (extra or overriding headers; null removes one), raw (a
  // complete request string to send instead), engineio (readMessage answers Engine.IO PINGs;
  // default: when no explicit path is given). A string in place of the options is the path.
  // Resolves with a RawWs; `status` / `responseHead` tell how the server answered (`status`
  // 0: the connection closed without an answer).
  static connect(srv, options = {}, more = {}) {
    const opts = typeof options === "string" ? { ...more, path: options } : options;
    const { query = {}, path: target, headers = {}, raw, engineio = target === undefined } = opts;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: srv.host, port: srv.port });
      socket.setNoDelay(true);
      const ws = new RawWs(socket);
      ws.engineio = engineio;
      const key = crypto.randomBytes(16).toString("base64");
      let head = Buffer.alloc(0);
      let handshaken = false;
      const onData = (d) => {
        if (handshaken) return;
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        handshaken = true;
        socket.off("data", onData);
        ws.responseHead = head.subarray(0, end).toString("latin1");
        const statusLine = ws.responseHead.split("\r\n")[0];
        ws.status = Number(statusLine.split(" ")[1]);
        ws.responseHeaders = {};
        for (const line of ws.responseHead.split("\r\n").slice(1)) {
          const i = line.indexOf(":");
          if (i > 0) ws.responseHeaders[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        if (ws.status === 101) {
          const expected = crypto.createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
          ws.acceptOk = ws.responseHeaders["sec-websocket-accept"] === expected;
        }
        ws._attach(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on("data", onData);
      socket.on("error", (e) => {
        ws.error = e;
        // A reset during the handshake is an answer too (status 0, from the close event).
        if (!handshaken && e.code !== "ECONNRESET") reject(e);
      });
      socket.on("close", () => {
        if (handshaken) return;
        handshaken = true;
        ws.status = 0;
        ws.responseHead = head.toString("latin1");
        ws._end("closed during the opening handshake");
        resolve(ws);
      });
      socket.setTimeout(5000, () => {
        if (!handshaken) socket.destroy(new Error("opening handshake timed out"));
      });
      socket.once("connect", () => {
        socket.setTimeout(0);
        if (raw !== undefined) {
          socket.write(raw);
          return;
        }
        const q = new URLSearchParams({ EIO: "4", transport: "websocket", ...query });
        const reqTarget = target ?? `${srv.path ?? "/socket.io/"}?${q}`;
        const h = {
          Host: `${srv.host}:${srv.port}`,
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": key,
          "Sec-WebSocket-Version": "13",
        };
        for (const [k, v] of Object.entries(headers)) {
          const existing = Object.keys(h).find((x) => x.toLowerCase() === k.toLowerCase());
          if (existing) delete h[existing];
          if (v !== null) h[k] = v;
        }
        let req = `GET ${reqTarget} HTTP/1.1\r\n`;
        for (const [k, v] of Object.entries(h)) req += `${k}: ${v}\r\n`;
        socket.write(`${req}\r\n`);
      });
    });
  }

  _attach(rest) {
    const socket = this.socket;
    socket.on("data", (d) => {
      this.bytesRead += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this._parse();
    });
    socket.on("end", () => this._end("end"));
    socket.on("close", () => this._end("close"));
    if (rest.length) {
      this.bytesRead += rest.length;
      this.buf = Buffer.from(rest);
      this._parse();
    }
  }

  _end(why) {
    if (this.ended) return;
    this.ended = why;
    this.frames.end(`connection ${why}${this.error ? ` (${this.error.code || this.error.message})` : ""}`);
    this._resolveEnded(why);
  }

  _parse() {
    let off = 0;
    const b = this.buf;
    for (;;) {
      if (b.length - off < 2) break;
      const b0 = b[off];
      const b1 = b[off + 1];
      let len = b1 & 0x7f;
      let p = off + 2;
      if (len === 126) {
        if (b.length - p < 2) break;
        len = b.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (b.length - p < 8) break;
        len = Number(b.readBigUInt64BE(p));
        p += 8;
      }
      const masked = (b1 & 0x80) !== 0;
      let key = null;
      if (masked) {
        if (b.length - p < 4) break;
        key = b.subarray(p, p + 4);
        p += 4;
      }
      if (b.length - p < len) break;
      let payload = b.subarray(p, p + len);
      if (masked) {
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      this.frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked, payload });
      off = p + len;
    }
    this.buf = off === b.length ? Buffer.alloc(0) : b.subarray(off);
  }

  write(data) {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve(false);
      this.socket.write(data, (err) => resolve(!err));
    });
  }

  sendFrame(opts) {
    return this.write(buildFrame(opts));
  }
  sendText(text) {
    return this.sendFrame({ opcode: OP.TEXT, payload: Buffer.from(text, "utf8") });
  }

  readFrame(ms = 3000) {
    return this.frames.shift(ms, "a websocket frame");
  }

  // Next complete data message (reassembling continuations; control frames other than
  // close are skipped, and so are Engine.IO PINGs in an Engine.IO session, which are
  // answered): { opcode, payload }.
  async readMessage(ms = 3000) {
    let first = null;
    const parts = [];
    for (;;) {
      const f = await this.readFrame(ms);
      if (f.opcode >= 8) {
        if (f.opcode === OP.CLOSE) throw new Error(`got a close frame (${closeCode(f)}) instead of a message`);
        continue;
      }
      if (this.engineio && !first && f.fin && f.opcode === OP.TEXT && f.payload.length === 1 && f.payload[0] === 0x32) {
        this.sendText("3");
        continue;
      }
      if (!first) first = f;
      parts.push(f.payload);
      if (f.fin) return { opcode: first.opcode, payload: Buffer.concat(parts) };
    }
  }

  // Reads until the server's Close frame; returns { code, reason, frame } (code null when
  // the frame had no status) or { code: undefined, ended } if the connection ended first.
  async waitClose(ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
      let f;
      try {
        f = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (this.ended) return { code: undefined, ended: this.ended, error: this.error?.code };
        throw e;
      }
      if (f.opcode === OP.CLOSE) {
        return { code: closeCode(f), reason: f.payload.subarray(2).toString("utf8"), frame: f };
      }
    }
  }

  // Resolves true when the server closes the TCP connection within `ms`.
  async endedWithin(ms) {
    return Promise.race([this.endedPromise.then(() => true), unrefSleep(ms).then(() => false)]);
  }

  pause() {
    this.socket.pause();
  }
  resume() {
    this.socket.resume();
  }
  destroy() {
    this.socket.destroy();
  }
}

export function closeCode(frame) {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null;
}

