// The interop test app (tests/apps/interop_app.cpp) on the official Node socket.io server:
// the reference the interop suite (tests/interop/*.test.mjs) is checked against.
//
//   node tests/apps/interop_reference.mjs --port N     (0: any free port)
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT" (same as the Chorus app,
// so the harness treats both alike). SIGTERM/SIGINT close the server and exit with 0.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const JWT_SECRET = "chorus-test-secret";
const MAX_TOKEN_LENGTH = 8 * 1024;

function parseArgs(argv) {
  let port = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--port" && i + 1 < argv.length && /^\d+$/.test(argv[i + 1])) {
      port = Number(argv[++i]);
    } else {
      console.error("usage: interop_reference.mjs --port N");
      process.exit(2);
    }
  }
  return { port };
}

// HS256 verification with the same rules and messages as chorus::jwt::verify_hs256.
function decodeSegment(segment) {
  if (!/^[A-Za-z0-9_-]*$/.test(segment) || segment.length % 4 === 1) return null;
  const bytes = Buffer.from(segment, "base64url");
  // Refuse non-canonical encodings (spare bits set), as the Chorus decoder does.
  if (bytes.toString("base64url") !== segment) return null;
  return bytes;
}

function parseObject(bytes) {
  try {
    const value = JSON.parse(bytes.toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function verifyHs256(token, secret, nowSeconds, leeway = 0) {
  if (token.length > MAX_TOKEN_LENGTH) throw new Error("malformed token");
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("malformed token");
  const headerBytes = decodeSegment(parts[0]);
  const header = headerBytes && parseObject(headerBytes);
  if (!header) throw new Error("malformed token");
  if (header.alg !== "HS256" || "crit" in header) throw new Error("unsupported algorithm");
  if ("typ" in header && typeof header.typ !== "string") throw new Error("malformed token");
  const payloadBytes = decodeSegment(parts[1]);
  const signature = decodeSegment(parts[2]);
  if (!payloadBytes || !signature) throw new Error("malformed token");
  const expected = createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest();
  if (!secret || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    throw new Error("invalid signature");
  }
  const claims = parseObject(payloadBytes);
  if (!claims) throw new Error("malformed token");
  for (const name of ["exp", "nbf", "iat"]) {
    if (name in claims && typeof claims[name] !== "number") throw new Error("malformed token");
  }
  leeway = Math.max(leeway, 0);
  if ("exp" in claims && nowSeconds >= claims.exp + leeway) throw new Error("token expired");
  if ("nbf" in claims && nowSeconds + leeway < claims.nbf) throw new Error("token not yet valid");
  return claims;
}

function findToken(handshake) {
  const auth = handshake.auth?.token;
  if (auth !== undefined && auth !== null) {
    if (typeof auth !== "string") throw new Error("malformed token");
    return auth;
  }
  if (typeof handshake.query.token === "string" && handshake.query.token !== "") return handshake.query.token;
  const header = (handshake.headers.authorization ?? "").trim();
  if (/^bearer /i.test(header)) {
    const token = header.slice(7).trim();
    if (token) return token;
  }
  return null;
}

function jwtMiddleware(secret) {
  return (socket, next) => {
    const unauthorized = (reason) => {
      const err = new Error(`unauthorized: ${reason}`);
      err.data = { reason };
      next(err);
    };
    let token;
    try {
      token = findToken(socket.handshake);
    } catch (e) {
      return unauthorized(e.message);
    }
    if (!token) return unauthorized("missing token");
    try {
      socket.data.user = verifyHs256(token, secret, Math.floor(Date.now() / 1000));
    } catch (e) {
      return unauthorized(e.message);
    }
    next();
  };
}

function installEcho(socket) {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  for (const name of ["42", "1e+21"]) {
    socket.on(name, (...args) => {
      const ack = args.pop();
      ack(`numeric ${name}`, ...args);
    });
  }
}

// socket.io hands handlers a trailing ack function only when the client asked for one.
function withAck(handler) {
  return (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
    return handler(args, ack);
  };
}

const { port } = parseArgs(process.argv.slice(2));
const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });
const reasons = [];

const main = io.of("/");
main.on("connection", (socket) => {
  installEcho(socket);
  socket.on("join", withAck(([room], ack) => { socket.join(String(room)); ack(true); }));
  socket.on("leave", withAck(([room], ack) => { socket.leave(String(room)); ack(true); }));
  socket.on("to-room", withAck(([room, msg], ack) => { socket.to(String(room)).emit("room-msg", msg ?? null); ack(true); }));
  socket.on("server-to-room", withAck(([room, msg], ack) => { main.to(String(room)).emit("room-msg", msg ?? null); ack(true); }));
  socket.on("ask", withAck((args) => {
    socket.timeout(500).emit("question", ...args, (err, ...reply) => {
      if (err) socket.emit("answer", { error: err.message });
      else socket.emit("answer", ...reply);
    });
  }));
  socket.on("binary", withAck((args) => socket.emit("binary-back", ...args)));
  socket.on("count", withAck((_args, ack) => ack(main.sockets.size)));
  socket.on("fetch", withAck(async ([room], ack) => {
    const sockets = await main.in(String(room)).fetchSockets();
    ack(sockets.map((s) => s.id));
  }));
  socket.on("kick-room", withAck(([room], ack) => { ack(true); main.in(String(room)).disconnectSockets(); }));
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("reasons", withAck((_args, ack) => ack(reasons)));
  socket.on("disconnect", (reason) => {
    reasons.push([socket.id, reason]);
    if (reasons.length > 1000) reasons.shift();
  });
  socket.emit("welcome", { id: socket.id, auth: socket.handshake.auth });
});

const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth?.token === "letmein") return next();
  const err = new Error("not authorized");
  err.data = { code: 403 };
  next(err);
});
admin.on("connection", (socket) => {
  installEcho(socket);
  socket.emit("welcome", { id: socket.id, auth: socket.handshake.auth });
});

const secure = io.of("/secure");
secure.use(jwtMiddleware(JWT_SECRET));
secure.on("connection", (socket) => {
  installEcho(socket);
  socket.emit("whoami", socket.data.user ?? null);
});

io.of(/^\/dyn-\d+$/).on("connection", (socket) => {
  installEcho(socket);
  socket.emit("nsp", socket.nsp.name);
});

function shutdown() {
  io.close(() => process.exit(0));
  // io.close waits for the HTTP server; held keep-alive connections must not block exit.
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`chorus: listening on http://127.0.0.1:${httpServer.address().port}\n`);
});
