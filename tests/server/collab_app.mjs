// chorus-collab-app (env CHORUS_COLLAB_APP, tests/apps/collab_app.cpp) for the collaboration
// suites: startApp(args) starts it on a free port and resolves once it listens with
// { url, connect(), get(path), stop(signal), stderr() }. connect() opens an official
// socket.io-client socket on "/docs" (websocket, no automatic reconnection: a test that drops
// a transport reconnects with connect()); get(path) fetches JSON, asserting 200. Every app still
// running when the suite ends is stopped.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after } from "node:test";
import { io } from "socket.io-client";

const APP = process.env.CHORUS_COLLAB_APP;
if (!APP) throw new Error("set CHORUS_COLLAB_APP to the chorus-collab-app binary");

const running = new Set();
after(async () => {
  for (const app of running) await app.stop();
});

export function startApp(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(APP, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stderr.on("data", (c) => (err += c));
    proc.on("error", reject);
    proc.on("exit", (code) => reject(new Error(`chorus-collab-app exited (${code}): ${err}`)));
    proc.stdout.on("data", (c) => {
      out += c;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (!m) return;
      const url = m[1];
      const sockets = [];
      const app = {
        url,
        stderr: () => err,
        connect() {
          const s = io(`${url}/docs`, { transports: ["websocket"], forceNew: true, reconnection: false });
          sockets.push(s);
          return new Promise((ok, fail) => {
            s.once("connect", () => ok(s));
            s.once("connect_error", fail);
          });
        },
        async get(path) {
          const res = await fetch(url + path);
          assert.equal(res.status, 200, path);
          return res.json();
        },
        stop(signal = "SIGTERM") {
          running.delete(app);
          for (const s of sockets) s.disconnect();
          proc.removeAllListeners("exit");
          return new Promise((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            proc.once("exit", () => done());
            proc.kill(signal);
          });
        },
      };
      running.add(app);
      resolve(app);
    });
  });
}
