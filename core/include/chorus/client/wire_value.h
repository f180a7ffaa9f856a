// Values crossing the client core's boundary: JSON text in which each Binary is replaced by
// a Socket.IO placeholder {"_placeholder":true,"num":i}, plus the list of binaries. This is
// how the browser SDK hands event arguments to the core and back in one string and one list
// of byte arrays, instead of one call per value.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::client {

// Appends the JSON text of `value` to `json`, moving its binaries into `binaries`. Fails on
// values JSON cannot hold (non-finite numbers, nesting past limits.max_json_depth).
Status to_wire(Value&& value, std::string& json, std::vector<Binary>& binaries, const Limits& limits = Limits{});

// Parses `json` and puts the binaries back where their placeholders are. Every placeholder
// must name an index below binaries.size(); JSON rules and limits as json::parse.
Result<Value> from_wire(std::string_view json, std::vector<Binary> binaries, const Limits& limits = Limits{});

}  // namespace chorus::client
