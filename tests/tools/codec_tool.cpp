// chorus_codec: runs the Chorus codecs over a differential corpus (tests/differential/
// corpus.jsonl) and prints one canonical JSON line per corpus line, in the same format as
// tests/differential/js_codec.mjs prints for the reference npm parsers. compare.mjs diffs
// the two; the native and WASM builds of this tool must print byte-identical output.
//
// Corpus line forms (one JSON object per line; blank lines are skipped):
//   {"layer":"eio","text":"4hello"}          one Engine.IO packet given as text
//   {"layer":"eio","text_b64":"<b64>"}       the same, given as raw bytes (for bad UTF-8)
//   {"layer":"eio","binary":"<b64>"}         one Engine.IO binary message (WebSocket frame)
//   {"layer":"payload","text":"4a\u001e4b"}  an HTTP long-polling body ("text_b64" too)
//   {"layer":"sio","frames":["2[\"a\"]",{"binary":"AQI="},{"text_b64":"<b64>"}]}
//                                            Engine.IO messages fed to one Socket.IO Decoder
//
// Output ("canonical": object keys sorted bytewise, no whitespace):
//   eio/payload {"encoded":"<re-encoded text>","ok":true,"packets":[{"data":"hello","type":
//               "message"}|{"binary":"<b64>","type":"message"},...]} or {"ok":false}
//   sio         {"encoded":[{"attachments":["<b64>",...],"text":"..."},...],"ok":true,
//               "packets":[{"data":<JSON; Binary as {"$binary":"<b64>"}>,"id":1,"nsp":"/",
//               "type":2},...],"pending":false} or {"ok":false}
//   a corpus line that cannot be read: {"corpus_error":"<why>"}
//
// Uses only the Chorus core API (chorus::json reads the corpus) and stdio, so that it builds
// unchanged with g++ and with Emscripten (-sNODERAWFS=1 gives it the host file system).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/base64.h"
#include "chorus/engineio/packet.h"
#include "chorus/json/json.h"
#include "chorus/limits.h"
#include "chorus/socketio/packet.h"
#include "chorus/value.h"
#include "command_line.h"

namespace chorus {
namespace {

// The reference parser's names for Engine.IO packet types (engine.io-parser commons.js).
const char* eio_type_name(engineio::PacketType type) {
  switch (type) {
    case engineio::PacketType::kOpen:
      return "open";
    case engineio::PacketType::kClose:
      return "close";
    case engineio::PacketType::kPing:
      return "ping";
    case engineio::PacketType::kPong:
      return "pong";
    case engineio::PacketType::kMessage:
      return "message";
    case engineio::PacketType::kUpgrade:
      return "upgrade";
    case engineio::PacketType::kNoop:
      return "noop";
  }
  return "?";
}

void write_b64(std::string_view bytes, std::string& out) {
  out += '"';
  base64::encode(bytes, out);
  out += '"';
}

std::string_view as_view(const Binary& b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// Canonical JSON: keys sorted by their UTF-8 bytes, non-finite numbers as null (as
// JSON.stringify does), Binary as {"$binary":"<b64>"}.
void write_canonical(const Value& v, std::string& out) {
  switch (v.type()) {
    case Value::Type::kNull:
      out += "null";
      return;
    case Value::Type::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Type::kNumber:
      if (std::isfinite(v.as_number())) {
        json::format_number(v.as_number(), out);
      } else {
        out += "null";
      }
      return;
    case Value::Type::kString:
      json::quote_string(v.as_string(), out);
      return;
    case Value::Type::kBinary:
      out += "{\"$binary\":";
      write_b64(as_view(v.as_binary()), out);
      out += '}';
      return;
    case Value::Type::kArray: {
      out += '[';
      bool first = true;
      for (const Value& item : v.as_array()) {
        if (!first) out += ',';
        first = false;
        write_canonical(item, out);
      }
      out += ']';
      return;
    }
    case Value::Type::kObject: {
      const Object& members = v.as_object();
      std::vector<const Member*> sorted;
      sorted.reserve(members.size());
      for (const Member& m : members) sorted.push_back(&m);
      std::sort(sorted.begin(), sorted.end(), [](const Member* a, const Member* b) {
        return std::lexicographical_compare(
            a->key.begin(), a->key.end(), b->key.begin(), b->key.end(),
            [](char x, char y) { return static_cast<unsigned char>(x) < static_cast<unsigned char>(y); });
      });
      out += '{';
      bool first = true;
      for (const Member* m : sorted) {
        if (!first) out += ',';
        first = false;
        json::quote_string(m->key, out);
        out += ':';
        write_canonical(m->value, out);
      }
      out += '}';
      return;
    }
  }
}

void write_eio_packet(const engineio::Packet& p, std::string& out) {
  if (p.binary) {
    out += "{\"binary\":";
    write_b64(p.data, out);
  } else {
    out += "{\"data\":";
    json::quote_string(p.data, out);
  }
  out += ",\"type\":\"";
  out += eio_type_name(p.type);
  out += "\"}";
}

void write_eio_result(const std::vector<engineio::Packet>& packets, const std::string& encoded, std::string& out) {
  out += "{\"encoded\":";
  json::quote_string(encoded, out);
  out += ",\"ok\":true,\"packets\":[";
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i) out += ',';
    write_eio_packet(packets[i], out);
  }
  out += "]}";
}

// The text of an "eio"/"payload" line: "text" as is, or "text_b64" decoded to raw bytes.
// Returns false (with `why`) when the line has neither or bad base64.
bool line_text(const Value& line, std::string& text, std::string& why) {
  if (const Value* t = line.find("text"); t && t->is_string()) {
    text = t->as_string();
    return true;
  }
  if (const Value* t = line.find("text_b64"); t && t->is_string()) {
    auto bytes = base64::decode(t->as_string());
    if (!bytes.ok()) {
      why = "bad text_b64";
      return false;
    }
    text = std::move(bytes.value());
    return true;
  }
  why = "no text";
  return false;
}

void run_eio(const Value& line, std::string& out) {
  engineio::Packet packet;
  if (const Value* b = line.find("binary"); b && b->is_string()) {
    auto bytes = base64::decode(b->as_string());
    if (!bytes.ok()) {
      out += "{\"corpus_error\":\"bad binary\"}";
      return;
    }
    packet = engineio::decode_binary(bytes.value());
  } else {
    std::string text, why;
    if (!line_text(line, text, why)) {
      out += "{\"corpus_error\":\"" + why + "\"}";
      return;
    }
    auto decoded = engineio::decode_text(text);
    if (!decoded.ok()) {
      out += "{\"ok\":false}";
      return;
    }
    packet = std::move(decoded.value());
  }
  write_eio_result({packet}, engineio::encode_text(packet), out);
}

void run_payload(const Value& line, std::string& out) {
  std::string text, why;
  if (!line_text(line, text, why)) {
    out += "{\"corpus_error\":\"" + why + "\"}";
    return;
  }
  auto decoded = engineio::decode_payload(text);
  if (!decoded.ok()) {
    out += "{\"ok\":false}";
    return;
  }
  std::string encoded;
  engineio::encode_payload(decoded.value(), encoded);
  write_eio_result(decoded.value(), encoded, out);
}

void write_sio_packet(const socketio::Packet& p, std::string& out) {
  out += '{';
  if (p.data) {
    out += "\"data\":";
    write_canonical(*p.data, out);
    out += ',';
  }
  if (p.id) {
    out += "\"id\":" + std::to_string(*p.id) + ',';
  }
  out += "\"nsp\":";
  json::quote_string(p.nsp, out);
  out += ",\"type\":" + std::to_string(static_cast<int>(p.type)) + '}';
}

void run_sio(const Value& line, std::string& out) {
  const Value* frames = line.find("frames");
  if (!frames || !frames->is_array()) {
    out += "{\"corpus_error\":\"no frames\"}";
    return;
  }
  socketio::Decoder decoder;
  std::vector<socketio::Packet> packets;
  for (const Value& frame : frames->as_array()) {
    Result<std::optional<socketio::Packet>> r = std::optional<socketio::Packet>{};
    if (frame.is_string()) {
      r = decoder.feed_text(frame.as_string());
    } else if (const Value* b = frame.find("binary"); b && b->is_string()) {
      auto bytes = base64::decode(b->as_string());
      if (!bytes.ok()) {
        out += "{\"corpus_error\":\"bad binary\"}";
        return;
      }
      r = decoder.feed_binary(bytes.value());
    } else if (const Value* t = frame.find("text_b64"); t && t->is_string()) {
      auto bytes = base64::decode(t->as_string());
      if (!bytes.ok()) {
        out += "{\"corpus_error\":\"bad text_b64\"}";
        return;
      }
      r = decoder.feed_text(bytes.value());
    } else {
      out += "{\"corpus_error\":\"bad frame\"}";
      return;
    }
    if (!r.ok()) {
      out += "{\"ok\":false}";
      return;
    }
    if (r.value()) packets.push_back(std::move(*r.value()));
  }

  out += "{\"encoded\":[";
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i) out += ',';
    auto enc = socketio::encode(packets[i]);
    if (!enc.ok()) {
      // Chorus cannot re-encode a packet it accepted: shows up as a mismatch.
      out += "{\"encode_error\":";
      json::quote_string(enc.error().message, out);
      out += '}';
      continue;
    }
    out += "{\"attachments\":[";
    for (std::size_t a = 0; a < enc->attachments.size(); ++a) {
      if (a) out += ',';
      write_b64(as_view(enc->attachments[a]), out);
    }
    out += "],\"text\":";
    json::quote_string(enc->text, out);
    out += '}';
  }
  out += "],\"ok\":true,\"packets\":[";
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i) out += ',';
    write_sio_packet(packets[i], out);
  }
  out += "],\"pending\":";
  out += decoder.awaiting_attachments() ? "true" : "false";
  out += '}';
}

void run_line(std::string_view text, std::string& out) {
  Limits corpus_limits;
  corpus_limits.max_payload = std::size_t{1} << 30;
  auto line = json::parse(text, corpus_limits);
  if (!line.ok() || !line->is_object()) {
    out += "{\"corpus_error\":\"line is not a JSON object\"}";
    return;
  }
  const std::string layer = line->find("layer") ? line->find("layer")->get_string() : "";
  if (layer == "eio") {
    run_eio(line.value(), out);
  } else if (layer == "payload") {
    run_payload(line.value(), out);
  } else if (layer == "sio") {
    run_sio(line.value(), out);
  } else {
    out += "{\"corpus_error\":\"unknown layer\"}";
  }
}

bool read_file(const char* path, std::string& out) {
  std::FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool ok = !std::ferror(f);
  std::fclose(f);
  return ok;
}

}  // namespace
}  // namespace chorus

int main(int argc, char** argv) {
  std::vector<std::string> args;
  chorus::tools::CommandLine("chorus_codec",
                             "usage: chorus_codec CORPUS.jsonl\n\n"
                             "Decodes every corpus line; prints one canonical JSON line each.\n\n"
                             "  --help   this text\n")
      .positional(&args, 1, 1)
      .parse(argc, argv);
  std::string corpus;
  if (!chorus::read_file(args[0].c_str(), corpus)) {
    std::fprintf(stderr, "chorus_codec: cannot read %s\n", args[0].c_str());
    return 2;
  }
  std::size_t pos = 0;
  std::string out;
  while (pos < corpus.size()) {
    std::size_t end = corpus.find('\n', pos);
    if (end == std::string::npos) end = corpus.size();
    std::string_view line(corpus.data() + pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    out.clear();
    chorus::run_line(line, out);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
