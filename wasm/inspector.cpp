// The core's WASM smoke module: decodes and re-encodes Engine.IO / Socket.IO packets in the
// browser with the very code the server runs. Served by the demo command until the
// collaborative editor exists; also the yardstick for the WASM core's size.
#include <string>

#include "chorus/engineio/packet.h"
#include "chorus/json/json.h"
#include "chorus/socketio/packet.h"

namespace {

std::string g_out;

void append_value(const chorus::Value& v, std::string& out);

void append_binary_as_marker(const chorus::Binary& b, std::string& out) {
  out += "{\"$binary\":";
  out += std::to_string(b.size());
  out += "}";
}

void append_value(const chorus::Value& v, std::string& out) {
  if (v.is_binary()) return append_binary_as_marker(v.as_binary(), out);
  if (v.is_array()) {
    out.push_back('[');
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out.push_back(',');
      append_value(v[i], out);
    }
    out.push_back(']');
    return;
  }
  if (v.is_object()) {
    out.push_back('{');
    bool first = true;
    for (const chorus::Member& m : v.as_object()) {
      if (!first) out.push_back(',');
      first = false;
      chorus::json::quote_string(m.key, out);
      out.push_back(':');
      append_value(m.value, out);
    }
    out.push_back('}');
    return;
  }
  (void)chorus::json::stringify_to(v, out);
}

void error(const chorus::Error& e) {
  g_out = "{\"ok\":false,\"error\":";
  chorus::json::quote_string(e.message, g_out);
  g_out += "}";
}

}  // namespace

// layer 0: one Engine.IO packet; 1: a polling payload; 2: a Socket.IO packet (text only).
extern "C" const char* chorus_inspect(int layer, const char* text, int length) {
  std::string_view in(text, static_cast<std::size_t>(length));
  if (layer == 0 || layer == 1) {
    std::vector<chorus::engineio::Packet> packets;
    if (layer == 0) {
      auto p = chorus::engineio::decode_text(in);
      if (!p) return error(p.error()), g_out.c_str();
      packets.push_back(std::move(p).value());
    } else {
      auto ps = chorus::engineio::decode_payload(in);
      if (!ps) return error(ps.error()), g_out.c_str();
      packets = std::move(ps).value();
    }
    g_out = "{\"ok\":true,\"packets\":[";
    for (std::size_t i = 0; i < packets.size(); ++i) {
      if (i) g_out.push_back(',');
      g_out += "{\"type\":\"";
      g_out += chorus::engineio::to_string(packets[i].type);
      g_out += "\",\"binary\":";
      g_out += packets[i].binary ? "true" : "false";
      g_out += ",\"data\":";
      chorus::json::quote_string(
          packets[i].binary ? std::string("<") + std::to_string(packets[i].data.size()) + " bytes>" : packets[i].data,
          g_out);
      g_out += "}";
    }
    g_out += "]}";
    return g_out.c_str();
  }
  chorus::socketio::Decoder decoder;
  auto r = decoder.feed_text(in);
  if (!r) return error(r.error()), g_out.c_str();
  if (!r.value()) {
    g_out = "{\"ok\":true,\"pending\":true}";
    return g_out.c_str();
  }
  const chorus::socketio::Packet& p = **r;
  g_out = "{\"ok\":true,\"type\":\"";
  g_out += chorus::socketio::to_string(p.type);
  g_out += "\",\"nsp\":";
  chorus::json::quote_string(p.nsp, g_out);
  if (p.id) g_out += ",\"id\":" + std::to_string(*p.id);
  if (p.data) {
    g_out += ",\"data\":";
    append_value(*p.data, g_out);
  }
  auto enc = chorus::socketio::encode(p);
  if (enc) {
    g_out += ",\"encoded\":";
    chorus::json::quote_string(enc->text, g_out);
  }
  g_out += "}";
  return g_out.c_str();
}
