// Reconnection backoff, as socket.io-client's Manager computes it: the n-th delay is
// min * 2^n, moved by up to `jitter` of itself (down or up, chosen by the same random
// draw), capped at max. The random draw in [0, 1) is passed in, so tests are exact.
//
// Thread-safety: a plain value type.
#pragma once

#include <cstdint>

namespace chorus::client {

class Backoff {
 public:
  Backoff(std::uint32_t min_ms, std::uint32_t max_ms, double jitter)
      : min_ms_(min_ms), max_ms_(max_ms), jitter_(jitter) {}

  // The next delay in milliseconds; counts an attempt.
  std::uint32_t duration(double random);
  void reset() { attempts_ = 0; }
  std::uint32_t attempts() const { return attempts_; }

  void set_min(std::uint32_t ms) { min_ms_ = ms; }
  void set_max(std::uint32_t ms) { max_ms_ = ms; }
  void set_jitter(double jitter) { jitter_ = jitter; }

 private:
  std::uint32_t min_ms_;
  std::uint32_t max_ms_;
  double jitter_;
  std::uint32_t attempts_ = 0;
};

}  // namespace chorus::client
