// Collab engine benchmark: the automerge-paper and friendsforever traces through
// chorus::collab::Doc. Built natively and with Emscripten (bench/collab/CMakeLists.txt); run
// by bench/collab/run.sh, which compares it with Yjs (yjs_bench.mjs) in the same run.
//
// Usage: collab_bench TRACES_DIR [RUNS]
// Prints one JSON object per run and metric set on stdout:
//   {"trace":"automerge-paper","run":0,"apply_ms":..,"remote_apply_ms":..,"encode_ms":..,
//    "encoded_bytes":..,"load_ms":..,"memory_bytes":..,"heap_bytes":..,"items":..}
//   {"trace":"friendsforever","run":0,"replay_ms":..,"merges":..}
// apply_ms: the edits as local edits, one change per edit (positions in UTF-16 units, the
// editor path). remote_apply_ms: the same history as one update per edit, applied to another
// replica. encode_ms / encoded_bytes: the whole document as one update. load_ms: that update
// applied to an empty Doc. memory_bytes: Doc::memory_usage(). heap_bytes: allocator bytes in
// use after the local replay, less before (mallinfo).
#include <malloc.h>

#include <chrono>
#include <cstdio>
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

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

long heap_in_use() {
#ifdef __EMSCRIPTEN__
  return static_cast<long>(mallinfo().uordblks);
#else
  return static_cast<long>(mallinfo2().uordblks);
#endif
}

int fail(const char* what) {
  std::fprintf(stderr, "collab_bench: %s\n", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  chorus::tools::CommandLine cl("collab_bench",
                                "usage: collab_bench TRACES_DIR [RUNS]\n\n"
                                "Replays the automerge-paper trace from TRACES_DIR RUNS times (default 5,\n"
                                "at most 1000); one JSON line per run.\n\n"
                                "  --help   this text\n");
  cl.positional(&args, 1, 2).parse(argc, argv);
  std::string dir = args[0];
  int runs = 5;
  if (args.size() == 2) {
    const std::string& text = args[1];
    bool digits = !text.empty() && text.size() <= 4 && text.find_first_not_of("0123456789") == std::string::npos;
    runs = digits ? std::stoi(text) : 0;
    if (runs < 1 || runs > 1000) cl.fail("RUNS must be a whole number from 1 to 1000, got '" + text + "'");
  }

  std::string json;
  trace::FlatTrace paper;
  if (!trace::read_file(dir + "/automerge-paper.json", &json) || !trace::parse_flat(json, &paper)) {
    return fail("cannot read automerge-paper.json");
  }
  trace::ConcurrentTrace friends;
  if (!trace::read_file(dir + "/friendsforever.concurrent.json", &json) || !trace::parse_concurrent(json, &friends)) {
    return fail("cannot read friendsforever.concurrent.json");
  }
  std::string().swap(json);

  // One update per edit, made once (not timed), for the remote-apply measurement.
  std::vector<std::string> per_edit;
  {
    Doc author(1);
    per_edit.reserve(paper.edits.size());
    for (const trace::Edit& e : paper.edits) {
      if (e.del && !author.erase(e.pos, e.del).ok()) return fail("erase rejected");
      if (!e.ins.empty() && !author.insert(e.pos, e.ins).ok()) return fail("insert rejected");
      per_edit.push_back(author.take_update());
    }
  }

  for (int run = 0; run < runs; ++run) {
    long heap0 = heap_in_use();
    auto t0 = std::chrono::steady_clock::now();
    auto doc = std::make_unique<Doc>(1);
    if (!trace::replay_flat(*doc, paper.edits, paper.edits.size(), Unit::kUtf16)) {
      return fail("replay rejected an edit");
    }
    double apply_ms = ms_since(t0);
    long heap = heap_in_use() - heap0;
    if (doc->text() != paper.end_content) return fail("automerge-paper: wrong final text");

    t0 = std::chrono::steady_clock::now();
    std::string encoded = doc->encode_state_as_update();
    double encode_ms = ms_since(t0);

    t0 = std::chrono::steady_clock::now();
    Doc loaded(2);
    if (!loaded.apply_update(encoded).ok()) return fail("load rejected");
    double load_ms = ms_since(t0);
    if (loaded.text() != paper.end_content) return fail("load: wrong text");

    t0 = std::chrono::steady_clock::now();
    Doc remote(3);
    for (const std::string& u : per_edit) {
      if (!remote.apply_update(u).ok()) return fail("remote update rejected");
    }
    double remote_ms = ms_since(t0);
    if (remote.text() != paper.end_content) return fail("remote: wrong text");

    std::printf(
        "{\"trace\":\"automerge-paper\",\"run\":%d,\"apply_ms\":%.3f,\"remote_apply_ms\":%.3f,"
        "\"encode_ms\":%.3f,\"encoded_bytes\":%zu,\"load_ms\":%.3f,\"memory_bytes\":%zu,"
        "\"heap_bytes\":%ld,\"items\":%zu}\n",
        run, apply_ms, remote_ms, encode_ms, encoded.size(), load_ms, doc->memory_usage(), heap, doc->item_count());

    t0 = std::chrono::steady_clock::now();
    trace::ConcurrentReplay replay;
    if (!trace::replay_concurrent(friends, &replay)) return fail("friendsforever rejected");
    double replay_ms = ms_since(t0);
    for (const auto& r : replay.replicas) {
      if (r->text() != friends.end_content) return fail("friendsforever: no convergence");
    }
    std::printf("{\"trace\":\"friendsforever\",\"run\":%d,\"replay_ms\":%.3f,\"merges\":%zu}\n", run, replay_ms,
                replay.merges);
    std::fflush(stdout);
  }
  return 0;
}
