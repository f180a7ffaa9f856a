// Names that travel into room names, URLs and log lines (document names, game rooms):
// 1..max bytes of [A-Za-z0-9._-]. Internal to server/src.
#pragma once

#include <cstddef>
#include <string>

namespace chorus {

inline bool is_plain_name(const std::string& name, std::size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace chorus
