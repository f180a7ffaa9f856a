// MessagePack for chorus::Value, compatible with notepack.io (the codec of the Socket.IO Redis
// adapter and emitter), built on msgpack-cxx.
//
// Encoding: null -> nil, bool -> bool, a number that is an integer within [-2^63, 2^64) ->
// the smallest int/uint form, any other number -> float64, string -> str (never bin: Node
// would read a bin as a Buffer), Binary -> bin, array -> array, object -> map (insertion
// order, string keys).
//
// Decoding takes one value that fills the input exactly. nil -> null; ints and floats ->
// numbers; str -> string (must be UTF-8); bin -> Binary; map keys that are numbers become
// their JavaScript string form; timestamp ext (-1) -> the ISO 8601 string JSON.stringify gives
// a Date ("2026-12-06T10:12:41.123Z"); notepack's legacy ext 0 forms as notepack reads them;
// non-finite floats -> null (what JSON.stringify makes of them). Nesting deeper than
// limits.max_json_depth and any other ext type are errors.
//
// Not built into the browser SDK (the server and its tools only).
#pragma once

#include <string>
#include <string_view>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::msgpack {

void encode(const Value& value, std::string& out);  // appends
std::string encode(const Value& value);
Result<Value> decode(std::string_view bytes, const Limits& limits = Limits{});

}  // namespace chorus::msgpack
