// What a long-polling client pays for held polls answered with `Connection: close`: the
// official socket.io-client (Node, transports: ["polling"], default options) does acked echo
// round trips against a running bench server (chorus-bench-server or reference_server.mjs);
// reports the median and p99 round trip and the TCP connections opened per round trip.
//
//   node bench/polling_cost.mjs --port P [--rounds 300]
//
// Each round trip is a POST (the event) and a poll answer (the ack): against Chorus the poll
// held by the event loop is answered with `Connection: close`, so the next poll opens a new
// connection; against Node the agent may keep it.
import net from "node:net";
import { io } from "socket.io-client";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const port = Number(opt("--port"));
const rounds = Number(opt("--rounds", "300"));
if (!port) {
  console.error("usage: node bench/polling_cost.mjs --port P [--rounds N]");
  process.exit(2);
}

let connects = 0;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) {
  connects++;
  return connect.apply(this, a);
};

const socket = io(`http://127.0.0.1:${port}`, { transports: ["polling"] });
await new Promise((resolve, reject) => {
  socket.once("connect", resolve);
  socket.once("connect_error", reject);
});
const startConnects = connects;
const times = [];
for (let i = 0; i < rounds; i++) {
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => socket.emit("echo", i, resolve));
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
socket.close();
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
console.log(
  JSON.stringify({
    scenario: "polling_cost",
    rounds,
    rtt_p50_ms: +q(0.5).toFixed(3),
    rtt_p99_ms: +q(0.99).toFixed(3),
    tcp_connects_per_round: +((connects - startConnects) / rounds).toFixed(3),
  }),
);
process.exit(0);
