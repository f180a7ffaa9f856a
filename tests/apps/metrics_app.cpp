// Metrics test app: the server side of tests/metrics/*.test.mjs, written against the public
// Chorus API (and prometheus-cpp's, for the application's own families).
//
//   chorus-metrics-app [--port N] [--metrics-path PATH] [--max-buffered-bytes N]
//                      [--ping-interval MS] [--ping-timeout MS] [--redis URL]
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT/socket.io/". SIGTERM/SIGINT stop the
// server cleanly (exit code 0).
//
// Namespace "/" (every socket joins room "lobby"; "/chat" is open too, with no handlers):
//   emit("msg", ...)          nothing happens
//   emit("go", n[, ack])      the server broadcasts "news" (i) to all of "/" n times, then acks
//   emit("volatile", n)       n volatile broadcasts of "v" to this socket's own room
//   emit("flood", n, bytes)   n emits of "big" (a string of `bytes` x) to this socket; how many
//                             were queued is in GET /app/stats
//   emit("leave")             the server disconnects this socket from "/"
//   emit("kick")              the server closes the whole connection
// Routes:
//   GET /app/hit              counts app_hits_total (a family of the application's own, in
//                             Server::metrics_registry())
//   GET /app/text             Server::metrics_text()
//   GET /app/collectable      {"families": [names]} from Server::metrics_collectable()
//   GET /app/stats            {"flood_queued": N}
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "chorus/server.h"
#include "command_line.h"

namespace {

constexpr const char* kUsage =
    "usage: chorus-metrics-app [--port N] [--metrics-path PATH] [--max-buffered-bytes N]\n"
    "                          [--ping-interval MS] [--ping-timeout MS] [--redis URL]\n";

}  // namespace

int main(int argc, char** argv) {
  chorus::ServerOptions options;
  options.port = 0;
  options.metrics_path = "/metrics";
  std::string redis;
  chorus::tools::CommandLine cl("chorus-metrics-app", kUsage);
  cl.number("--port", &options.port, 0, 65535)
      .text("--metrics-path", &options.metrics_path)
      .number("--max-buffered-bytes", &options.max_buffered_bytes, 1024, std::uint64_t{1} << 32)
      .number("--ping-interval", &options.limits.ping_interval_ms, 1, 86'400'000)
      .number("--ping-timeout", &options.limits.ping_timeout_ms, 1, 86'400'000)
      .text("--redis", &redis)
      .parse(argc, argv);
  options.redis.url = redis;
  if (chorus::Status valid = chorus::check_options(options); !valid) {
    std::fprintf(stderr, "chorus-metrics-app: %s\n", valid.error().message.c_str());
    return 2;
  }

  chorus::Server server(options);
  prometheus::Counter& hits = prometheus::BuildCounter()
                                  .Name("app_hits_total")
                                  .Help("GET /app/hit requests.")
                                  .Register(*server.metrics_registry())
                                  .Add({});
  std::atomic<std::uint64_t> flood_queued{0};

  server.of("/").on_connection([&server, &flood_queued](chorus::Socket& socket) {
    socket.join("lobby");
    socket.on("msg", [](const chorus::Args&, chorus::Ack) {});
    socket.on("go", [&server](const chorus::Args& args, chorus::Ack ack) {
      const int n = args.empty() ? 0 : static_cast<int>(args[0].get_number());
      for (int i = 0; i < n; ++i) server.of("/").emit("news", i);
      ack(n);
    });
    socket.on("volatile", [&server, &socket](const chorus::Args& args, chorus::Ack) {
      const int n = args.empty() ? 0 : static_cast<int>(args[0].get_number());
      for (int i = 0; i < n; ++i) server.of("/").volatile_().to(socket.id()).emit("v", i);
    });
    socket.on("flood", [&socket, &flood_queued](const chorus::Args& args, chorus::Ack) {
      const int n = args.size() < 2 ? 0 : static_cast<int>(args[0].get_number());
      const std::size_t bytes = args.size() < 2 ? 0 : static_cast<std::size_t>(args[1].get_number());
      const std::string big(bytes, 'x');
      for (int i = 0; i < n; ++i) {
        if (socket.emit("big", big)) flood_queued.fetch_add(1);
      }
    });
    socket.on("leave", [&socket](const chorus::Args&, chorus::Ack) { socket.disconnect(); });
    socket.on("kick", [&socket](const chorus::Args&, chorus::Ack) { socket.disconnect(true); });
  });
  server.of("/chat");

  server.route("GET", "/app/hit", [&hits](const chorus::HttpRequest&, chorus::HttpResponse& res) {
    hits.Increment();
    res.text("ok");
  });
  server.route("GET", "/app/text",
               [&server](const chorus::HttpRequest&, chorus::HttpResponse& res) { res.text(server.metrics_text()); });
  server.route("GET", "/app/collectable", [&server](const chorus::HttpRequest&, chorus::HttpResponse& res) {
    chorus::Array names;
    for (const prometheus::MetricFamily& f : server.metrics_collectable()->Collect()) names.emplace_back(f.name);
    res.json(chorus::Value::object({{"families", chorus::Value(std::move(names))}}));
  });
  server.route("GET", "/app/stats", [&flood_queued](const chorus::HttpRequest&, chorus::HttpResponse& res) {
    res.json(chorus::Value::object({{"flood_queued", static_cast<double>(flood_queued.load())}}));
  });

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-metrics-app: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://127.0.0.1:%d/socket.io/\n", server.port());
  std::fflush(stdout);
  chorus::Status ran = server.run();
  if (!ran) {
    std::fprintf(stderr, "chorus-metrics-app: %s\n", ran.error().message.c_str());
    return 1;
  }
  return 0;
}
