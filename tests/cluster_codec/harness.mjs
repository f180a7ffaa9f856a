// Shared by the cluster codec suites: the chorus_cluster_codec tool (tests/tools/
// cluster_codec_tool.cpp) as a long-lived child answering one JSON line per request, and the
// JavaScript side of the comparison (what a value decoded by notepack.io is, once in JSON).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { freePort, withTimeout } from "../common/util.mjs";

export const CODEC = process.env.CHORUS_CLUSTER_CODEC;
if (!CODEC) throw new Error("CHORUS_CLUSTER_CODEC is not set (tests/cluster_codec/tests.cmake sets it)");

// One chorus_cluster_codec process; call() resolves with the tool's reply to one request.
export class Codec {
  constructor() {
    this.proc = spawn(CODEC, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.pending = [];
    this.exited = once(this.proc, "exit");
    createInterface({ input: this.proc.stdout }).on("line", (line) => this.pending.shift()?.resolve(JSON.parse(line)));
    this.proc.on("exit", (code, signal) => {
      for (const p of this.pending.splice(0)) p.reject(new Error(`chorus_cluster_codec exited (${code}, ${signal})`));
    });
  }
  call(request) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.proc.stdin.write(JSON.stringify(request) + "\n");
    });
  }
  // Every op but decode* answers {ok:true, ...}: returns that, or throws with the reply.
  async ok(request) {
    const reply = await this.call(request);
    if (!reply.ok) throw new Error(`${JSON.stringify(request).slice(0, 200)} -> ${JSON.stringify(reply)}`);
    return reply;
  }
  async close() {
    this.proc.stdin.end();
    const [code] = await this.exited;
    if (code !== 0) throw new Error(`chorus_cluster_codec exited with ${code}`);
  }
}

const REDIS = process.env.CHORUS_REDIS_SERVER ?? "redis-server";

// A redis-server on 127.0.0.1 at a free port, without persistence: {proc, url}.
export async function startRedis() {
  const redisPort = await freePort();
  const proc = spawn(REDIS, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  await withTimeout(
    new Promise((resolve, reject) => {
      proc.stdout.on("data", (d) => {
        out += d;
        if (out.includes("Ready to accept connections")) resolve();
      });
      proc.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    }),
    20_000,
    "redis-server to start",
  );
  return { proc, url: `redis://127.0.0.1:${redisPort}` };
}

export const hex = (buf) => Buffer.from(buf).toString("hex");
export const b64 = (buf) => Buffer.from(buf).toString("base64");

// A value as notepack.io decoded it, in the tool's JSON form: what JSON.stringify makes of it
// (Dates as ISO strings or null, undefined left out of objects and null in arrays, non-finite
// numbers null), with Buffer/ArrayBuffer/typed arrays as {$binary: base64}.
export function asChorus(v) {
  if (v === undefined) return null;
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v + 0 : null; // -0 is 0
  if (v instanceof ArrayBuffer) return { $binary: b64(Buffer.from(v)) };
  if (ArrayBuffer.isView(v)) return { $binary: b64(Buffer.from(v.buffer, v.byteOffset, v.byteLength)) };
  if (v instanceof Date) return v.toJSON();
  if (Array.isArray(v)) return v.map(asChorus);
  const out = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = asChorus(x);
  return out;
}

// The tool's JSON form back to what a Node peer holds: {$binary} -> Buffer.
export function asNode(v) {
  if (Array.isArray(v)) return v.map(asNode);
  if (v !== null && typeof v === "object") {
    if (Object.keys(v).length === 1 && typeof v.$binary === "string") return Buffer.from(v.$binary, "base64");
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asNode(x)]));
  }
  return v;
}
