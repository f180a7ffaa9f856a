// MessagePack for chorus::Value, compatible with notepack.io (the codec of the Socket.IO Redis
// adapter and emitter) and with @msgpack/msgpack 2.8 (the codec of the Redis streams adapter),
// built on msgpack-cxx.
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
// The two JavaScript codecs differ in what Chorus can see, and Dialect picks one:
// - Integers: notepack writes any integer in [-2^63, 2^64) as an int; @msgpack/msgpack only
//   safe integers (|n| <= 2^53 - 1), anything else as float64.
// - Ext types: @msgpack/msgpack reads only the timestamp (-1) as a Date; notepack's legacy
//   ext 0 forms are ExtData objects to it, so kMsgpackJs refuses them as any other ext.
// - Map keys: @msgpack/msgpack refuses the key "__proto__"; kMsgpackJs does too.
// Identical otherwise: str/bin/nil/bool/float64/array/map, Date as timestamp ext -1 (read here
// as its ISO string). An `undefined` in a JavaScript object is left out by notepack and
// written as nil by @msgpack/msgpack: both read back as JSON.stringify would show them.
//
// Not built into the browser SDK (the server and its tools only).
#pragma once

#include <string>
#include <string_view>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::msgpack {

enum class Dialect {
  kNotepack,   // notepack.io 3 (@socket.io/redis-adapter, @socket.io/redis-emitter)
  kMsgpackJs,  // @msgpack/msgpack 2.8 (@socket.io/redis-streams-adapter)
};

void encode(const Value& value, std::string& out, Dialect dialect = Dialect::kNotepack);  // appends
std::string encode(const Value& value, Dialect dialect = Dialect::kNotepack);
Result<Value> decode(std::string_view bytes, const Limits& limits = Limits{}, Dialect dialect = Dialect::kNotepack);

}  // namespace chorus::msgpack
