// Collab engine benchmark, native side: one run of chorus::collab::Doc (Release build) on
// one trace file, in this process; bench/collab/run.sh starts one process per trace and run
// and compares with the shipped WASM module, Yjs and diamond-types-node (js_bench.mjs).
//
// Usage: collab_bench TRACE_FILE
// Prints one JSON line with js_bench.mjs's field names. The trace's "format" says how to
// replay it (shared/traces/README.md):
//   flat-edits-v1: apply_ms (one insert or erase call per edit, UTF-16 positions as an
//     editor passes them), apply_update_ms (the same with take_update() after every edit),
//     update_bytes, encode_ms / encoded_bytes (the whole document as one update), load_ms
//     (that update applied to an empty Doc), memory_bytes (Doc::memory_usage()).
//   concurrent-v1: replay_ms (trace_replay.h: one replica per agent, merges, final merge),
//     merges, encode_ms / encoded_bytes / load_ms of the first replica, memory_bytes of all.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "chorus/collab/doc.h"
#include "command_line.h"
#include "core/collab/trace_reader.h"
#include "core/collab/trace_replay.h"

namespace {

using chorus::collab::Doc;
using chorus::collab::Unit;
namespace trace = chorus::collab::trace;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int fail(const std::string& what) {
  std::fprintf(stderr, "collab_bench: %s\n", what.c_str());
  return 1;
}

// encode_ms, encoded_bytes, load_ms of `doc` (the load checked against `expected`).
bool encode_and_load(const Doc& doc, const std::string& expected, std::string* json) {
  auto t0 = Clock::now();
  std::string encoded = doc.encode_state_as_update();
  double encode_ms = ms_since(t0);
  t0 = Clock::now();
  Doc loaded(999);
  if (!loaded.apply_update(encoded).ok()) return false;
  double load_ms = ms_since(t0);
  if (loaded.text() != expected) return false;
  char buf[160];
  std::snprintf(buf, sizeof buf, ",\"encode_ms\":%.3f,\"encoded_bytes\":%zu,\"load_ms\":%.3f", encode_ms,
                encoded.size(), load_ms);
  *json += buf;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  chorus::tools::CommandLine cl("collab_bench",
                                "usage: collab_bench TRACE_FILE\n\n"
                                "One run of chorus::collab::Doc on a flat-edits-v1 or concurrent-v1 trace;\n"
                                "one JSON line.\n\n"
                                "  --help   this text\n");
  cl.positional(&args, 1, 1).parse(argc, argv);
  const std::string& path = args[0];
  std::string text;
  if (!trace::read_file(path, &text)) return fail("cannot read " + path);
  std::string name = path.substr(path.find_last_of('/') + 1);
  name = name.substr(0, name.find('.'));
  char buf[512];
  std::string json;

  trace::FlatTrace flat;
  trace::ConcurrentTrace conc;
  if (text.find("\"flat-edits-v1\"") != std::string::npos && trace::parse_flat(text, &flat)) {
    std::string().swap(text);
    auto t0 = Clock::now();
    auto doc = std::make_unique<Doc>(1000);
    if (!trace::replay_flat(*doc, flat.edits, flat.edits.size(), Unit::kUtf16)) return fail("an edit was rejected");
    double apply_ms = ms_since(t0);
    if (doc->text() != flat.end_content) return fail(name + ": wrong final text");

    t0 = Clock::now();
    Doc updating(1001);
    std::size_t update_bytes = 0;
    for (const trace::Edit& e : flat.edits) {
      if (e.del && !updating.erase(e.pos, e.del).ok()) return fail("erase rejected");
      if (!e.ins.empty() && !updating.insert(e.pos, e.ins).ok()) return fail("insert rejected");
      update_bytes += updating.take_update().size();
    }
    double apply_update_ms = ms_since(t0);
    if (updating.text() != flat.end_content) return fail(name + ": wrong final text with updates");

    std::snprintf(buf, sizeof buf,
                  "{\"engine\":\"native\",\"trace\":\"%s\",\"format\":\"flat-edits-v1\",\"apply_ms\":%.3f,"
                  "\"apply_update_ms\":%.3f,\"update_bytes\":%zu,\"memory_bytes\":%zu,\"items\":%zu",
                  name.c_str(), apply_ms, apply_update_ms, update_bytes, doc->memory_usage(), doc->item_count());
    json = buf;
    if (!encode_and_load(*doc, flat.end_content, &json)) return fail(name + ": load failed");
  } else if (text.find("\"concurrent-v1\"") != std::string::npos && trace::parse_concurrent(text, &conc)) {
    std::string().swap(text);
    auto t0 = Clock::now();
    trace::ConcurrentReplay replay;
    if (!trace::replay_concurrent(conc, &replay)) return fail(name + ": an operation was rejected");
    double replay_ms = ms_since(t0);
    std::size_t memory = 0;
    for (const auto& r : replay.replicas) {
      if (r->text() != conc.end_content) return fail(name + ": no convergence");
      memory += r->memory_usage();
    }
    std::snprintf(buf, sizeof buf,
                  "{\"engine\":\"native\",\"trace\":\"%s\",\"format\":\"concurrent-v1\",\"replay_ms\":%.3f,"
                  "\"merges\":%zu,\"memory_bytes\":%zu",
                  name.c_str(), replay_ms, replay.merges, memory);
    json = buf;
    if (!encode_and_load(*replay.replicas[0], conc.end_content, &json)) return fail(name + ": load failed");
  } else {
    return fail(path + ": neither a flat-edits-v1 nor a concurrent-v1 trace");
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}
