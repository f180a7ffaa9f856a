// Safe JSON for Chorus, over RapidJSON 1.1.0.
//
// parse(): RapidJSON's iterative SAX reader (no recursion, whatever the nesting), UTF-8
// validated, with Chorus guards applied first: total size (Limits::max_payload), nesting
// depth (Limits::max_json_depth), and number literals (Limits::max_number_length,
// Limits::max_exponent_digits) so that RapidJSON never sees the exponent overflow of
// CVE-2024-38517. Raw control characters in strings are rejected (RFC 8259 §7); escaped
// ones, including \u0000, are kept. A lone surrogate escape is rejected.
//
// stringify(): byte-for-byte what JavaScript's JSON.stringify produces for the same value
// (number formatting, escapes), so encoded packets match the reference implementation.
// Binary values have no JSON form: stringify() fails on them (Socket.IO replaces them with
// placeholders first).
//
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::json {

Result<Value> parse(std::string_view text, const Limits& limits = Limits{});

// Appends the JSON text of `value` to `out`. Fails on Binary, non-finite numbers (JSON has
// no form for them) and nesting deeper than `max_depth`.
Status stringify_to(const Value& value, std::string& out, std::uint32_t max_depth = Limits{}.max_json_depth);
Result<std::string> stringify(const Value& value, std::uint32_t max_depth = Limits{}.max_json_depth);

// Appends `number` formatted as JavaScript's Number.prototype.toString does (shortest
// round-trip digits; exponent form outside [1e-7, 1e21)). `number` must be finite.
void format_number(double number, std::string& out);

// Appends `text` as a JSON string literal, escaped as JSON.stringify does.
void quote_string(std::string_view text, std::string& out);

}  // namespace chorus::json
