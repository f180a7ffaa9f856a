// Small helpers shared by every Node test suite (tests/*/harness.mjs re-export them).
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// A timer that does not keep the process alive: for races against other events.
export const unrefSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// Rejects after `ms` with a message naming what was awaited.
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Retries `fn` until it returns without throwing (server-side state settles asynchronously).
export async function eventually(fn, ms = 3_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

// An async FIFO: push() from event handlers, `await shift()` from tests.
export class Queue {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.ended = null;
  }
  push(item) {
    const w = this.waiters.shift();
    if (w) w.resolve(item);
    else this.items.push(item);
  }
  end(reason) {
    if (this.ended) return;
    this.ended = reason ?? "ended";
    for (const w of this.waiters.splice(0)) w.reject(new Error(`queue ended: ${this.ended}`));
  }
  shift(ms = 3000, what = "an item") {
    if (this.items.length) return Promise.resolve(this.items.shift());
    if (this.ended) return Promise.reject(new Error(`queue ended (${this.ended}) while waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const w = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }
  // What arrived within `ms` and was not taken (for asserting that nothing more arrives).
  async quiet(ms = 200) {
    await sleep(ms);
    return this.items.slice();
  }
}

// A free TCP port on 127.0.0.1 (released before returning: a small race is accepted).
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// A temporary directory: { dir, remove() }; removed at exit too.
export function tempDir(prefix = "chorus-test-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", remove);
  return { dir, remove };
}

// Binary values arrive as Buffer or ArrayBuffer depending on client and transport: compare
// them as {$bin: hex}.
export function normalize(value) {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

// HS256 JSON Web Tokens for the JWT middleware tests.
const b64url = (data) => Buffer.from(data).toString("base64url");
export function signHs256(claims, secret, header = { alg: "HS256", typ: "JWT" }) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}
export const nowSeconds = () => Math.floor(Date.now() / 1000);
