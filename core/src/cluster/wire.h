// Pieces of the classic Redis adapter's codec (redis_adapter.cpp) that the streams adapter's
// codec (streams_adapter.cpp) shares: room lists, broadcast options, event arrays and Node's
// JSON.stringify. Private to chorus_cluster.
#pragma once

#include <string>
#include <vector>

#include "chorus/cluster/redis_adapter.h"
#include "chorus/error.h"
#include "chorus/value.h"

namespace chorus::cluster::wire {

// A list of room names; absent or null is empty, numbers take their JavaScript string form.
Status parse_room_list(const Value* v, const char* what, std::vector<std::string>& out);
// {rooms, except, flags}: every field may be absent; unknown flags are ignored.
Status parse_opts(const Value* v, Opts& opts);
// [event, ...args], the event a string.
Status parse_event(const Value* v, const char* what, Array& out);
// {rooms, except} and, with_flags, {flags} as Node writes them.
Value opts_to_value(const Opts& opts, bool with_flags);
// A list of strings as an array.
Value string_list(const std::vector<std::string>& items);
// Node's JSON.stringify: Binary as {"type":"Buffer","data":[...]}, non-finite numbers null.
std::string json_text(const Value& v);

}  // namespace chorus::cluster::wire
