// Starting the servers under test: every Chorus binary (and the reference Node servers of
// the suites) prints "chorus: listening on http(s)://HOST:PORT[/PATH]" as its first stdout
// line; SIGTERM must make it exit 0.
import { spawn } from "node:child_process";
import { sleep, unrefSleep } from "./util.mjs";

// The line may go on after the URL (", capacity N").
const LISTENING = /^chorus: listening on (https?):\/\/([^/:\s]+|\[[^\]]+\]):(\d+)(\/[^\s,]*)?(?:[\s,].*)?$/;
const SANITIZER = /runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer/;
const KEEP = 1 << 20; // bytes of stdout / stderr kept for messages

// A started server: host, port, scheme, path (from the listening line), url(p), stdout,
// stderr, exited (Promise of {code, signal}), alive, stop(), crash().
export class ServerProcess {
  constructor(name, proc, { echoStderr = false } = {}) {
    this.name = name;
    this.proc = proc;
    this.stdout = "";
    this.stderr = "";
    this.exit = null;
    this.exited = new Promise((resolve) => {
      // "close": the process exited and its output has been read to the end.
      proc.once("close", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.stdout.setEncoding("utf8");
    if (proc.stderr) {
      proc.stderr.setEncoding("utf8");
      proc.stderr.on("data", (d) => {
        if (this.stderr.length < KEEP) this.stderr += d;
        if (echoStderr) process.stderr.write(d);
      });
    }
  }

  get alive() {
    return this.exit === null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  url(p = "") {
    return `${this.scheme}://${this.host}:${this.port}${p}`;
  }

  // The interesting parts of stderr (a sanitizer report starts at the top).
  stderrExcerpt() {
    const e = this.stderr;
    return e.length <= 6000 ? e : `${e.slice(0, 4500)}\n[...]\n${e.slice(-1500)}`;
  }

  // Sends `signal` and resolves with {code, signal, ms}; SIGKILL after `graceMs`. With
  // `strict`, fails when the server had died before, did not exit 0 in time, or printed a
  // sanitizer report.
  async stop({ signal = "SIGTERM", graceMs = 10_000, strict = false } = {}) {
    const t0 = Date.now();
    if (!this.alive) {
      if (strict) throw new Error(`${this.name} had already exited: ${JSON.stringify(this.exit)}\n${this.stderrExcerpt()}`);
      return { ...(await this.exited), ms: 0 };
    }
    this.proc.kill(signal);
    let res = await Promise.race([this.exited, unrefSleep(graceMs).then(() => null)]);
    if (!res) {
      this.proc.kill("SIGKILL");
      res = await this.exited;
      if (strict) throw new Error(`${this.name} did not exit within ${graceMs} ms of ${signal}`);
    }
    if (strict && res.code !== 0) {
      throw new Error(`${this.name} exited with ${JSON.stringify(res)} after ${signal}\n${this.stderrExcerpt()}`);
    }
    if (strict && SANITIZER.test(this.stderr)) {
      throw new Error(`sanitizer report from ${this.name}:\n${this.stderrExcerpt()}`);
    }
    return { ...res, ms: Date.now() - t0 };
  }

  // kill -9: no chance to flush anything.
  async crash() {
    if (this.alive) this.proc.kill("SIGKILL");
    await this.exited;
  }
}

// Starts `cmd args` and resolves once its listening line arrived. Options: cwd, env,
// stderr ("pipe" keeps it for messages; "inherit" also copies it to this process's
// stderr), timeoutMs, and retryMs: when
// the server cannot bind a fixed port that a killed server still holds ("address in use"),
// try again for that long.
export async function startProcess(cmd, args, { name, cwd, env, stderr = "pipe", timeoutMs = 20_000, retryMs = 0 } = {}) {
  const label = name ?? cmd;
  const deadline = Date.now() + retryMs;
  for (;;) {
    try {
      return await startOnce(cmd, args, { label, cwd, env, stderr, timeoutMs });
    } catch (e) {
      if (!e.addressInUse || Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

async function startOnce(cmd, args, { label, cwd, env, stderr, timeoutMs }) {
  const proc = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  const srv = new ServerProcess(label, proc, { echoStderr: stderr === "inherit" });
  let line;
  try {
    line = await new Promise((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`${label}: no "listening" line within ${timeoutMs} ms\n${srv.stderrExcerpt()}`)), timeoutMs);
      const onData = (d) => {
        buf += d;
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        clearTimeout(timer);
        proc.stdout.off("data", onData);
        srv.stdout = buf;
        proc.stdout.on("data", (more) => {
          if (srv.stdout.length < KEEP) srv.stdout += more;
        });
        resolve(buf.slice(0, nl));
      };
      proc.stdout.on("data", onData);
      proc.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      srv.exited.then((e) => {
        clearTimeout(timer);
        const err = new Error(`${label} exited before listening: ${JSON.stringify(e)}\n${srv.stderrExcerpt()}`);
        err.addressInUse = /address (already )?in use/i.test(srv.stderr);
        reject(err);
      });
    });
  } catch (e) {
    if (srv.alive) proc.kill("SIGKILL");
    await srv.exited.catch(() => {});
    throw e;
  }
  const m = LISTENING.exec(line.trim());
  if (!m) {
    proc.kill("SIGKILL");
    throw new Error(`${label}: unexpected first line ${JSON.stringify(line)}`);
  }
  srv.line = line.trim();
  srv.scheme = m[1];
  srv.host = m[2] === "0.0.0.0" ? "127.0.0.1" : m[2];
  srv.port = Number(m[3]);
  srv.path = m[4] ?? "/";
  return srv;
}

// The shape the socket.io-level suites (interop, SDK) use: `url` is the base URL string and
// stop(signal) resolves with {code, signal} once the process is gone (SIGKILL after 5 s).
// With a fixed port, retries while a server that was just stopped still holds it.
export async function startAppServer(cmd, args, { port = 0 } = {}) {
  const srv = await startProcess(cmd, args, { stderr: "inherit", retryMs: port === 0 ? 0 : 5_000 });
  srv.url = `http://127.0.0.1:${srv.port}`;
  const stop = srv.stop.bind(srv);
  srv.stop = async (signal = "SIGTERM") => {
    const { code, signal: sig } = await stop({ signal, graceMs: 5_000 });
    return { code, signal: sig };
  };
  return srv;
}

// Runs a program to completion (for arguments that must make it exit): resolves with {code,
// signal, stdout, stderr}. A program still running after `ms` is killed (it started something
// instead of exiting: the caller's check of the exit status then fails).
export function runToExit(cmd, args, { cwd, ms = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c) => (stdout += c));
    proc.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
