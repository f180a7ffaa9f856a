// State vector: for every client, how many of its code points a replica has integrated
// (its next expected clock). Two replicas exchange state vectors to learn what the other
// lacks; Doc::encode_state_as_update(&their_vector) is exactly that difference.
//
// Encoding: varuint(count), then count pairs varuint(client) varuint(clock), clients in
// ascending order, clocks > 0. decode() rejects anything else (unsorted or repeated
// clients, zero clocks, overlong varints, trailing bytes).
//
// Thread-safety: a plain value type.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chorus/collab/id.h"
#include "chorus/error.h"

namespace chorus::collab {

class StateVector {
 public:
  StateVector() = default;

  // Next expected clock of `client`: 0 for a client never seen.
  Clock get(ClientId client) const;
  // Sets the clock of `client` (0 removes it).
  void set(ClientId client, Clock clock);

  // (client, clock) pairs sorted by client; clocks are never 0.
  const std::vector<std::pair<ClientId, Clock>>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  std::string encode() const;
  static Result<StateVector> decode(std::string_view bytes);

  friend bool operator==(const StateVector& a, const StateVector& b) { return a.entries_ == b.entries_; }
  friend bool operator!=(const StateVector& a, const StateVector& b) { return !(a == b); }

 private:
  std::vector<std::pair<ClientId, Clock>> entries_;
};

}  // namespace chorus::collab
