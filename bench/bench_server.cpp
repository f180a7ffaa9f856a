// chorus-bench-server: the Chorus side of the benchmarks, built from the public API only.
//
//   chorus-bench-server --port N [--host ADDR] [--max-connections N] [--io-threads N]
//                       [--tls-cert PEM] [--redis URL [--redis-key K] [--redis-adapter KIND]]
//                       [--recovery-ms MS]
//
// Every socket joins "room1"; "echo" with an ack callback acks its argument, without one
// emits "echo" back; "broadcast" emits "bcast" with its argument to room1 (namespace-wide,
// sender included). First stdout line: "chorus: listening on http(s)://127.0.0.1:PORT"; with
// --redis (a node of a cluster, ServerOptions::redis) only once its Redis subscriptions are in
// place. --redis-adapter streams: the streams mode (@socket.io/redis-streams-adapter's
// protocol); --recovery-ms: connection state recovery (default off, as ServerOptions). Exits on
// SIGTERM / SIGINT.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "chorus/server.h"
#include "command_line.h"

namespace {

chorus::Server* g_server = nullptr;

void on_signal(int) {
  if (g_server != nullptr) g_server->request_stop();
}

// Each connection holds a descriptor; the bench opens thousands.
void raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlimit want = rl;
  want.rlim_cur = want.rlim_max = std::max<rlim_t>(rl.rlim_max, 65536);
  if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
    want = rl;
    want.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &want);
  }
}

}  // namespace

int main(int argc, char** argv) {
  chorus::ServerOptions opts;
  opts.port = 0;
  opts.log_level = chorus::LogLevel::kWarn;
  // Every load generator connection comes from 127.0.0.1: no per-address queueing in front of
  // the workers (the default of 8 is for the open internet).
  opts.max_pending_per_address = opts.http_threads;
  std::string adapter = "classic";
  std::uint32_t recovery_ms = 0;
  chorus::tools::CommandLine cl("chorus-bench-server",
                                "usage: chorus-bench-server [options]\n\n"
                                "The Chorus side of the benchmarks (bench/run.sh).\n\n"
                                "  --host ADDR           listen address (default 127.0.0.1)\n"
                                "  --port N              listen port (default 0: a free one)\n"
                                "  --max-connections N   connections held at once (default: ServerOptions')\n"
                                "  --io-threads N        event loop threads (default 0: one per core)\n"
                                "  --tls-cert PEM        certificate and key: serve https/wss\n"
                                "  --redis URL           a node of a cluster through this Redis\n"
                                "  --redis-key K         its channel prefix (default socket.io)\n"
                                "  --redis-adapter KIND  classic (default: @socket.io/redis-adapter, pub/sub) or\n"
                                "                        streams (@socket.io/redis-streams-adapter)\n"
                                "  --recovery-ms MS      connection state recovery within MS (default 0: off)\n"
                                "  --help                this text\n");
  cl.text("--host", &opts.host)
      .number("--port", &opts.port, 0, 65535)
      .number("--max-connections", &opts.max_connections, 1, 1'000'000)
      .number("--io-threads", &opts.io_threads, 0, 1'024)
      .text("--tls-cert", &opts.tls_certificate)
      .text("--redis", &opts.redis.url)
      .text("--redis-key", &opts.redis.key)
      .text("--redis-adapter", &adapter)
      .number("--recovery-ms", &recovery_ms, 0, 86'400'000)
      .parse(argc, argv);
  if (adapter == "streams") {
    opts.redis.adapter = chorus::RedisAdapterOptions::Kind::kStreams;
  } else if (adapter != "classic") {
    cl.fail("--redis-adapter needs classic or streams, got '" + adapter + "'");
  }
  opts.connection_state_recovery.enabled = recovery_ms > 0;
  if (recovery_ms > 0) opts.connection_state_recovery.max_disconnection_ms = recovery_ms;
  raise_nofile_limit();

  chorus::Server server(opts);
  server.on_connection([&server](chorus::Socket& s) {
    s.join("room1");
    s.on("echo", [&s](const chorus::Args& args, chorus::Ack ack) {
      if (ack.requested()) {
        ack(args);
      } else {
        s.emit("echo", args);
      }
    });
    s.on("broadcast",
         [&server](const chorus::Args& args, chorus::Ack) { server.of("/").to("room1").emit("bcast", args); });
  });

  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto started = server.start();
  if (!started.ok()) {
    std::fprintf(stderr, "chorus-bench-server: %s\n", started.error().message.c_str());
    return 1;
  }
  // A cluster node is ready once Redis holds its subscriptions: a broadcast before that would
  // not reach the other nodes.
  if (!opts.redis.url.empty()) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server.cluster_connected() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!server.cluster_connected()) {
      std::fprintf(stderr, "chorus-bench-server: Redis at %s not connected within 10 s\n", opts.redis.url.c_str());
      server.stop();
      return 1;
    }
  }
  std::printf("chorus: listening on %s://127.0.0.1:%d\n", opts.tls_certificate.empty() ? "http" : "https",
              server.port());
  std::fflush(stdout);
  auto ran = server.run();
  g_server = nullptr;
  if (!ran.ok()) {
    std::fprintf(stderr, "chorus-bench-server: %s\n", ran.error().message.c_str());
    return 1;
  }
  return 0;
}
