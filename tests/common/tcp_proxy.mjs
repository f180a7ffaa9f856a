// A TCP proxy on 127.0.0.1 standing in for a load balancer in front of several nodes: one
// listening port, one target port that can be switched. Switching fails over the way a load
// balancer does when a node goes away: every open proxied connection is destroyed (both sides,
// so the client sees its transport drop) and new connections go to the new target.
//
// hold() makes new connections wait (accepted, nothing read or forwarded) until release(): a
// test decides when a client that reconnects by itself reaches the new target, instead of
// racing its reconnection timer.
import net from "node:net";

export class TcpProxy {
  constructor(target) {
    this.target = target;
    this.port = null;
    this.server = net.createServer((client) => this.#accept(client));
    this.open = new Set(); // [client, upstream] pairs being forwarded
    this.held = new Set(); // clients waiting for release()
    this.holding = false;
    this.accepted = 0; // connections accepted so far
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  // New connections go to `port`; every open proxied connection is destroyed. Held connections
  // stay held (they go to `port` on release()).
  switchTo(port) {
    this.target = port;
    for (const pair of this.open) for (const s of pair) s.destroy();
    this.open.clear();
  }

  // New connections wait until release().
  hold() {
    this.holding = true;
  }

  // Forwards the held connections (to the current target) and stops holding.
  release() {
    this.holding = false;
    const held = [...this.held];
    this.held.clear();
    for (const client of held) this.#forward(client);
  }

  // Stops listening and destroys every connection, held ones too.
  async close() {
    this.switchTo(this.target);
    for (const client of this.held) client.destroy();
    this.held.clear();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  #accept(client) {
    this.accepted++;
    client.on("error", () => {});
    if (!this.holding) return this.#forward(client);
    client.pause();
    this.held.add(client);
    client.once("close", () => this.held.delete(client));
  }

  #forward(client) {
    if (client.destroyed) return;
    const upstream = net.connect({ host: "127.0.0.1", port: this.target });
    const pair = [client, upstream];
    this.open.add(pair);
    upstream.on("error", () => {});
    const done = () => {
      this.open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once("close", done);
    upstream.once("close", done);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }
}

// A listening TcpProxy forwarding to `target` (a port on 127.0.0.1).
export async function startProxy(target) {
  return new TcpProxy(target).listen();
}
