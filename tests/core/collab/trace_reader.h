// Reader for the editing traces in shared/traces (formats in its README.md): flat-edits-v1
// (one user's edits in order) and concurrent-v1 (transactions with parents, one replica per
// agent). A small purpose-built JSON reader: the traces are MBs of tiny arrays, and this
// header is shared by the tests and by bench/collab (natively and compiled to WASM), where
// a general JSON DOM would cost more than the replay it feeds.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chorus::collab::trace {

struct Edit {
  std::uint32_t pos = 0;  // code points
  std::uint32_t del = 0;  // code points
  std::string ins;        // UTF-8
};

struct FlatTrace {
  std::string start_content;
  std::string end_content;
  std::vector<Edit> edits;
};

struct Txn {
  std::vector<std::uint32_t> parents;
  std::uint32_t agent = 0;
  std::vector<Edit> patches;
};

struct ConcurrentTrace {
  std::uint32_t num_agents = 0;
  std::string end_content;
  std::vector<Txn> txns;
};

inline bool read_file(const std::string& path, std::string* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out->clear();
  char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  std::fclose(f);
  return true;
}

class JsonCursor {
 public:
  explicit JsonCursor(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }

  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_;
  }
  bool peek(char c) {
    ws();
    return p_ < s_.size() && s_[p_] == c;
  }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++p_;
    return true;
  }
  void expect(char c) {
    if (!eat(c)) ok_ = false;
  }

  std::uint64_t number() {
    ws();
    std::uint64_t v = 0;
    bool any = false;
    while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
      v = v * 10 + static_cast<std::uint64_t>(s_[p_++] - '0');
      any = true;
    }
    if (!any) ok_ = false;
    return v;
  }

  std::string string() {
    std::string out;
    ws();
    if (p_ >= s_.size() || s_[p_] != '"') {
      ok_ = false;
      return out;
    }
    ++p_;
    while (p_ < s_.size() && s_[p_] != '"') {
      char c = s_[p_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (p_ >= s_.size()) break;
      char e = s_[p_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(p_, 2) == "\\u") {
            p_ += 2;
            std::uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          out.push_back(e);
          break;  // \" \\ \/
      }
    }
    if (p_ >= s_.size()) {
      ok_ = false;
      return out;
    }
    ++p_;
    return out;
  }

  // Skips any JSON value.
  void skip() {
    ws();
    if (p_ >= s_.size()) {
      ok_ = false;
      return;
    }
    char c = s_[p_];
    if (c == '"') {
      string();
    } else if (c == '[' || c == '{') {
      char close = c == '[' ? ']' : '}';
      ++p_;
      if (eat(close)) return;
      do {
        if (c == '{') {
          string();
          expect(':');
        }
        skip();
      } while (ok_ && eat(','));
      expect(close);
    } else {
      while (p_ < s_.size() && s_[p_] != ',' && s_[p_] != ']' && s_[p_] != '}') ++p_;
    }
  }

  // Calls f(key) for each member of an object; f must consume the value.
  template <class F>
  void object(F&& f) {
    expect('{');
    if (eat('}')) return;
    do {
      std::string key = string();
      expect(':');
      if (!ok_) return;
      f(key);
    } while (ok_ && eat(','));
    expect('}');
  }

  // Calls f() for each element of an array; f must consume the element.
  template <class F>
  void array(F&& f) {
    expect('[');
    if (eat(']')) return;
    do {
      f();
    } while (ok_ && eat(','));
    expect(']');
  }

  Edit edit() {
    Edit e;
    expect('[');
    e.pos = static_cast<std::uint32_t>(number());
    expect(',');
    e.del = static_cast<std::uint32_t>(number());
    expect(',');
    e.ins = string();
    expect(']');
    return e;
  }

 private:
  std::uint32_t hex4() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (p_ >= s_.size()) {
        ok_ = false;
        return 0;
      }
      char c = s_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        ok_ = false;
    }
    return v;
  }

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  std::size_t p_ = 0;
  bool ok_ = true;
};

inline bool parse_flat(std::string_view json, FlatTrace* out) {
  JsonCursor j(json);
  j.object([&](const std::string& key) {
    if (key == "startContent") {
      out->start_content = j.string();
    } else if (key == "endContent") {
      out->end_content = j.string();
    } else if (key == "edits") {
      j.array([&] { out->edits.push_back(j.edit()); });
    } else {
      j.skip();
    }
  });
  return j.ok();
}

inline bool parse_concurrent(std::string_view json, ConcurrentTrace* out) {
  JsonCursor j(json);
  j.object([&](const std::string& key) {
    if (key == "numAgents") {
      out->num_agents = static_cast<std::uint32_t>(j.number());
    } else if (key == "endContent") {
      out->end_content = j.string();
    } else if (key == "txns") {
      j.array([&] {
        Txn t;
        j.object([&](const std::string& k) {
          if (k == "parents") {
            j.array([&] { t.parents.push_back(static_cast<std::uint32_t>(j.number())); });
          } else if (k == "agent") {
            t.agent = static_cast<std::uint32_t>(j.number());
          } else if (k == "patches") {
            j.array([&] { t.patches.push_back(j.edit()); });
          } else {
            j.skip();
          }
        });
        out->txns.push_back(std::move(t));
      });
    } else {
      j.skip();
    }
  });
  return j.ok();
}

}  // namespace chorus::collab::trace
