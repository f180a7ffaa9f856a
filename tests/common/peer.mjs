// A socket.io-client-shaped socket (the official client or the Chorus SDK) whose events are
// queued, so tests await them in order without racing the server.
import assert from "node:assert/strict";
import { sleep } from "./util.mjs";

export class Peer {
  // `timeoutMs`: how long next() / first() wait by default.
  constructor(socket, { timeoutMs = 3_000 } = {}) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.queues = new Map();
    this.waiters = new Map();
    socket.onAny((event, ...args) => this.push(event, args));
    socket.on("connect", () => this.push("connect", []));
    socket.on("disconnect", (reason) => this.push("disconnect", [reason]));
    socket.on("connect_error", (err) => this.push("connect_error", [err]));
  }

  push(event, args) {
    const waiters = this.waiters.get(event);
    if (waiters && waiters.length) return waiters.shift()(args);
    if (!this.queues.has(event)) this.queues.set(event, []);
    this.queues.get(event).push(args);
  }

  // The arguments of the next `event` (queued or future).
  async next(event, ms = this.timeoutMs) {
    return (await this.first([event], ms)).args;
  }

  // The next of several events: {event, args}. Waiters for the others are withdrawn.
  first(events, ms = this.timeoutMs) {
    for (const event of events) {
      const queue = this.queues.get(event);
      if (queue && queue.length) return Promise.resolve({ event, args: queue.shift() });
    }
    return new Promise((resolve, reject) => {
      const entries = [];
      const withdraw = () => {
        for (const [event, fn] of entries) {
          const list = this.waiters.get(event);
          const i = list.indexOf(fn);
          if (i >= 0) list.splice(i, 1);
        }
      };
      const timer = setTimeout(() => {
        withdraw();
        reject(new Error(`no ${events.map((e) => `"${e}"`).join(" or ")} event within ${ms} ms`));
      }, ms);
      for (const event of events) {
        const fn = (args) => {
          clearTimeout(timer);
          withdraw();
          resolve({ event, args });
        };
        entries.push([event, fn]);
        if (!this.waiters.has(event)) this.waiters.set(event, []);
        this.waiters.get(event).push(fn);
      }
    });
  }

  // Asserts that no `event` arrives within `ms`.
  async none(event, ms = 250) {
    await sleep(ms);
    const queue = this.queues.get(event);
    assert.equal(queue ? queue.length : 0, 0, `unexpected "${event}": ${JSON.stringify(queue?.[0])}`);
  }

  get id() {
    return this.socket.id;
  }

  close() {
    this.socket.disconnect();
    this.socket.io?.engine?.close?.();
  }
}
