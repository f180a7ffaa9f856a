// Collaboration test app: the server side of tests/server/collab.test.mjs, a Server with a
// CollabService whose options come from the command line, written against the public
// Chorus API only.
//
//   chorus-collab-app --port N --db FILE [--compact-every N] [--max-documents N]
//                     [--max-pending-document BYTES] [--max-pending-connection BYTES]
//                     [--max-awareness BYTES] [--idle-unload-ms MS] [--recovery-ms MS]
//                     [--leave-grace-ms MS] [--epoch-min-deleted N]
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT". SIGTERM/SIGINT stop the
// server cleanly (exit code 0). Besides "/docs" (collab_service.h):
//   GET /api/docs             -> {"loaded": N} documents in memory
//   GET /api/docs/:name/text  -> {"text": "..."} (loads the document if needed)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "chorus/collab_service.h"
#include "chorus/server.h"

namespace {

int usage() {
  std::fputs(
      "usage: chorus-collab-app --port N --db FILE [--compact-every N] [--max-documents N]\n"
      "       [--max-pending-document BYTES] [--max-pending-connection BYTES] [--max-awareness BYTES]\n"
      "       [--idle-unload-ms MS] [--recovery-ms MS (0: off, the default)] [--leave-grace-ms MS]\n"
      "       [--epoch-min-deleted N]\n",
      stderr);
  return 2;
}

bool parse_number(const char* text, unsigned long long max, unsigned long long& out) {
  if (*text == '\0') return false;
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return *end == '\0' && out <= max && text[0] != '-';
}

}  // namespace

int main(int argc, char** argv) {
  chorus::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.log_level = chorus::LogLevel::kWarn;
  options.max_connections = 32;  // CivetWeb starts a worker per allowed connection
  chorus::CollabOptions collab;
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    if (i + 1 >= argc) return usage();
    const char* arg = argv[++i];
    if (std::strcmp(flag, "--db") == 0) {
      collab.database_path = arg;
      continue;
    }
    unsigned long long value = 0;
    if (!parse_number(arg, 1ull << 40, value)) return usage();
    if (std::strcmp(flag, "--port") == 0 && value <= 65535) {
      options.port = static_cast<int>(value);
    } else if (std::strcmp(flag, "--compact-every") == 0 && value > 0) {
      collab.compact_every = value;
    } else if (std::strcmp(flag, "--max-documents") == 0) {
      collab.max_documents_per_connection = value;
    } else if (std::strcmp(flag, "--max-pending-document") == 0) {
      collab.max_pending_bytes_per_document = value;
    } else if (std::strcmp(flag, "--max-pending-connection") == 0) {
      collab.max_pending_bytes_per_connection = value;
    } else if (std::strcmp(flag, "--max-awareness") == 0) {
      collab.max_awareness_bytes = value;
    } else if (std::strcmp(flag, "--idle-unload-ms") == 0) {
      collab.idle_unload_after = std::chrono::milliseconds(value);
    } else if (std::strcmp(flag, "--recovery-ms") == 0 && value <= 86'400'000) {
      options.connection_state_recovery.enabled = value > 0;
      options.connection_state_recovery.max_disconnection_ms = static_cast<std::uint32_t>(value);
    } else if (std::strcmp(flag, "--leave-grace-ms") == 0) {
      collab.leave_grace = std::chrono::milliseconds(value);
    } else if (std::strcmp(flag, "--epoch-min-deleted") == 0) {
      collab.epoch_min_deleted = value;
    } else {
      return usage();
    }
  }

  chorus::Server server(options);
  auto service = chorus::CollabService::attach(server, collab);
  if (!service) {
    std::fprintf(stderr, "chorus-collab-app: %s\n", service.error().message.c_str());
    return 1;
  }
  chorus::CollabService* docs = service.value().get();
  server.route("GET", "/api/docs", [docs](const chorus::HttpRequest&, chorus::HttpResponse& res) {
    res.json(chorus::Value::object({{"loaded", static_cast<double>(docs->loaded_documents())}}));
  });
  server.route("GET", "/api/docs/:name/text", [docs](const chorus::HttpRequest& req, chorus::HttpResponse& res) {
    auto text = docs->text(req.params.at("name"));
    if (!text) return res.error(500, text.error().message);
    res.json(chorus::Value::object({{"text", text.value()}}));
  });

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-collab-app: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://127.0.0.1:%d\n", server.port());
  std::fflush(stdout);
  chorus::Status ran = server.run();
  server.stop();
  return ran ? 0 : 1;
}
