#include "chorus/client/backoff.h"

#include <algorithm>
#include <cmath>

namespace chorus::client {

std::uint32_t Backoff::duration(double random) {
  // socket.io-client (backo2): ms = min * 2^attempts; deviation = floor(rand * jitter * ms);
  // subtract it when floor(rand * 10) is even, add it otherwise; cap at max. Computed in
  // doubles: 2^attempts overflows any integer after enough attempts.
  double ms =
      static_cast<double>(min_ms_) * std::pow(2.0, static_cast<double>(std::min<std::uint32_t>(attempts_, 1023)));
  if (attempts_ < UINT32_MAX) ++attempts_;
  if (jitter_ > 0) {
    double r = std::clamp(random, 0.0, 1.0);
    double deviation = std::floor(r * jitter_ * ms);
    ms = (static_cast<long long>(std::floor(r * 10)) & 1) == 0 ? ms - deviation : ms + deviation;
  }
  ms = std::min(ms, static_cast<double>(max_ms_));
  if (!(ms > 0)) return 0;
  return static_cast<std::uint32_t>(ms);
}

}  // namespace chorus::client
