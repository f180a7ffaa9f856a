// Chorus collaborative text in the browser: the C ABI between collab.mjs and
// chorus::collab::Doc + UndoManager. The only file of this part that includes Emscripten
// headers.
//
// Data crosses in bulk, never value by value: JavaScript writes an argument's bytes (UTF-8
// text, an update, a state vector, a relative position) into the input buffer
// (chorus_collab_input) and passes its length; a call that produces bytes leaves them in the
// output buffer and returns their length (the pointer is chorus_collab_output(), valid until
// the next call). Positions and lengths are UTF-16 code units, as browser editors count.
//
// Deltas (what an applied update, undo or redo changed) are written to the output buffer as
// records: byte kind (0 retain, 1 insert, 2 delete), u32le length in UTF-16 units, and for
// an insert u32le byte count + the UTF-8 text. One buffer per call instead of one call per
// operation.
#include <emscripten/emscripten.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/collab/doc.h"
#include "chorus/collab/undo_manager.h"

using chorus::collab::Assoc;
using chorus::collab::DeltaOp;
using chorus::collab::Doc;
using chorus::collab::RelativePosition;
using chorus::collab::StateVector;
using chorus::collab::TextDelta;
using chorus::collab::UndoManager;

namespace {

// The UndoManager keeps a reference to its Doc: both live together on the heap.
struct Replica {
  explicit Replica(chorus::collab::ClientId id) : doc(id), undo(doc) {}
  Doc doc;
  UndoManager undo;
};

std::vector<std::unique_ptr<Replica>> g_replicas;  // handle = index + 1
std::string g_in;
std::string g_out;
std::string g_error;

Replica* get(int handle) {
  if (handle <= 0 || static_cast<std::size_t>(handle) > g_replicas.size()) return nullptr;
  return g_replicas[static_cast<std::size_t>(handle) - 1].get();
}

std::uint64_t ms(double now) {
  return now > 0 ? static_cast<std::uint64_t>(now) : 0;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

int write_delta(const TextDelta& delta) {
  g_out.clear();
  for (const DeltaOp& op : delta) {
    switch (op.kind) {
      case DeltaOp::Kind::kRetain:
        g_out.push_back(0);
        break;
      case DeltaOp::Kind::kInsert:
        g_out.push_back(1);
        break;
      case DeltaOp::Kind::kDelete:
        g_out.push_back(2);
        break;
    }
    put_u32(g_out, static_cast<std::uint32_t>(op.length));
    if (op.kind == DeltaOp::Kind::kInsert) {
      put_u32(g_out, static_cast<std::uint32_t>(op.text.size()));
      g_out += op.text;
    }
  }
  return static_cast<int>(g_out.size());
}

int fail(const chorus::Error& e) {
  g_error = e.message;
  return -1;
}

int no_doc() {
  g_error = "the document was freed";
  return -1;
}

}  // namespace

extern "C" {

// Makes the input buffer `size` bytes long and returns it; JavaScript fills it before the
// call that reads it (re-reading HEAPU8 first: growing memory replaces the buffer).
EMSCRIPTEN_KEEPALIVE char* chorus_collab_input(int size) {
  g_in.resize(size > 0 ? static_cast<std::size_t>(size) : 0);
  return g_in.data();
}

EMSCRIPTEN_KEEPALIVE const char* chorus_collab_output() {
  return g_out.data();
}

// The message of the last call that returned -1 (NUL-terminated).
EMSCRIPTEN_KEEPALIVE const char* chorus_collab_error() {
  return g_error.c_str();
}

// `client` is a random integer below 2^53, exact in a double.
EMSCRIPTEN_KEEPALIVE int chorus_collab_create(double client) {
  auto id = static_cast<chorus::collab::ClientId>(client > 0 ? client : 1);
  for (std::size_t i = 0; i < g_replicas.size(); ++i) {
    if (!g_replicas[i]) {
      g_replicas[i] = std::make_unique<Replica>(id);
      return static_cast<int>(i + 1);
    }
  }
  g_replicas.push_back(std::make_unique<Replica>(id));
  return static_cast<int>(g_replicas.size());
}

EMSCRIPTEN_KEEPALIVE void chorus_collab_destroy(int handle) {
  if (get(handle) != nullptr) g_replicas[static_cast<std::size_t>(handle) - 1].reset();
}

// Inserts the input buffer's first `len` bytes (UTF-8) at `pos`, recorded for undo.
EMSCRIPTEN_KEEPALIVE int chorus_collab_insert(int handle, std::uint32_t pos, int len, double now) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  auto s = r->undo.insert(pos, std::string_view(g_in.data(), static_cast<std::size_t>(len)), ms(now));
  return s ? 0 : fail(s.error());
}

// Inserts one UTF-16 code unit (not a surrogate) at `pos`, recorded for undo: a keystroke
// without the input buffer or a text encoder on the JavaScript side.
EMSCRIPTEN_KEEPALIVE int chorus_collab_insert_unit(int handle, std::uint32_t pos, std::uint32_t unit, double now) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  char utf8[3];
  std::size_t n = 0;
  if (unit < 0x80) {
    utf8[n++] = static_cast<char>(unit);
  } else if (unit < 0x800) {
    utf8[n++] = static_cast<char>(0xC0 | (unit >> 6));
    utf8[n++] = static_cast<char>(0x80 | (unit & 0x3F));
  } else {
    // A surrogate (or anything past 0xFFFF) makes invalid UTF-8: insert() rejects it.
    utf8[n++] = static_cast<char>(0xE0 | ((unit >> 12) & 0x0F));
    utf8[n++] = static_cast<char>(0x80 | ((unit >> 6) & 0x3F));
    utf8[n++] = static_cast<char>(0x80 | (unit & 0x3F));
  }
  auto s = r->undo.insert(pos, std::string_view(utf8, n), ms(now));
  return s ? 0 : fail(s.error());
}

EMSCRIPTEN_KEEPALIVE int chorus_collab_erase(int handle, std::uint32_t pos, std::uint32_t len, double now) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  auto s = r->undo.erase(pos, len, ms(now));
  return s ? 0 : fail(s.error());
}

EMSCRIPTEN_KEEPALIVE int chorus_collab_take_update(int handle) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  g_out = r->doc.take_update();
  return static_cast<int>(g_out.size());
}

EMSCRIPTEN_KEEPALIVE int chorus_collab_has_local_changes(int handle) {
  Replica* r = get(handle);
  return r != nullptr && r->doc.has_local_changes() ? 1 : 0;
}

// Applies the update in the input buffer; the output holds the delta when `want_delta` is
// not 0 (a document being loaded needs none: its text is read afterwards).
EMSCRIPTEN_KEEPALIVE int chorus_collab_apply_update(int handle, int len, int want_delta) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  std::string_view bytes(g_in.data(), static_cast<std::size_t>(len));
  if (want_delta == 0) {
    auto s = r->doc.apply_update(bytes);
    return s ? 0 : fail(s.error());
  }
  TextDelta delta;
  auto s = r->doc.apply_update(bytes, &delta);
  if (!s) return fail(s.error());
  return write_delta(delta);
}

EMSCRIPTEN_KEEPALIVE int chorus_collab_text(int handle) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  g_out = r->doc.text();
  return static_cast<int>(g_out.size());
}

EMSCRIPTEN_KEEPALIVE double chorus_collab_length(int handle) {
  Replica* r = get(handle);
  return r == nullptr ? 0 : static_cast<double>(r->doc.length_utf16());
}

EMSCRIPTEN_KEEPALIVE double chorus_collab_memory(int handle) {
  Replica* r = get(handle);
  return r == nullptr ? 0 : static_cast<double>(r->doc.memory_usage());
}

EMSCRIPTEN_KEEPALIVE double chorus_collab_pending(int handle) {
  Replica* r = get(handle);
  return r == nullptr ? 0 : static_cast<double>(r->doc.pending_count());
}

EMSCRIPTEN_KEEPALIVE int chorus_collab_state_vector(int handle) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  g_out = r->doc.state_vector().encode();
  return static_cast<int>(g_out.size());
}

// What a replica with the state vector in the input buffer lacks; len < 0: everything.
EMSCRIPTEN_KEEPALIVE int chorus_collab_encode_state(int handle, int len) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  if (len < 0) {
    g_out = r->doc.encode_state_as_update();
  } else {
    auto sv = StateVector::decode(std::string_view(g_in.data(), static_cast<std::size_t>(len)));
    if (!sv) return fail(sv.error());
    g_out = r->doc.encode_state_as_update(&sv.value());
  }
  return static_cast<int>(g_out.size());
}

// assoc: 0 keeps to the character after `pos`, 1 to the one before (RelativePosition).
EMSCRIPTEN_KEEPALIVE int chorus_collab_relative_position(int handle, std::uint32_t pos, int assoc) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  auto rp = r->doc.relative_position(pos, assoc == 1 ? Assoc::kLeft : Assoc::kRight);
  if (!rp) return fail(rp.error());
  g_out = rp->encode();
  return static_cast<int>(g_out.size());
}

// The index the relative position in the input buffer stands for, or -1 when its character
// is not known here (yet) or the bytes are not a relative position.
EMSCRIPTEN_KEEPALIVE double chorus_collab_resolve(int handle, int len) {
  Replica* r = get(handle);
  if (r == nullptr) return -1;
  auto rp = RelativePosition::decode(std::string_view(g_in.data(), static_cast<std::size_t>(len)));
  if (!rp) return -1;
  auto at = r->doc.resolve(rp.value());
  return at ? static_cast<double>(at.value()) : -1;
}

// Undo / redo of this replica's own edits: the delta in the output, -1 when there was
// nothing to do.
EMSCRIPTEN_KEEPALIVE int chorus_collab_undo(int handle, int redo) {
  Replica* r = get(handle);
  if (r == nullptr) return no_doc();
  TextDelta delta;
  bool done = redo != 0 ? r->undo.redo(&delta) : r->undo.undo(&delta);
  if (!done) {
    g_error = redo != 0 ? "nothing to redo" : "nothing to undo";
    return -1;
  }
  return write_delta(delta);
}

// Bit 0: can undo; bit 1: can redo.
EMSCRIPTEN_KEEPALIVE int chorus_collab_undo_state(int handle) {
  Replica* r = get(handle);
  if (r == nullptr) return 0;
  return (r->undo.can_undo() ? 1 : 0) | (r->undo.can_redo() ? 2 : 0);
}

EMSCRIPTEN_KEEPALIVE void chorus_collab_stop_capturing(int handle) {
  if (Replica* r = get(handle)) r->undo.stop_capturing();
}

EMSCRIPTEN_KEEPALIVE void chorus_collab_clear_undo(int handle) {
  if (Replica* r = get(handle)) r->undo.clear();
}

}  // extern "C"
