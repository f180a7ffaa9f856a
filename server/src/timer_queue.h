// Callbacks due at deadlines (steady-clock milliseconds), cancellable by id: the one container
// behind the server's timer thread (TimerService) and each event loop's timers.
//
// Thread-safety: none; the owner locks it or uses it from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

namespace chorus {

class TimerQueue {
 public:
  using Id = std::uint64_t;

  Id add(std::uint64_t deadline_ms, std::function<void()> fn) {
    Id id = next_id_++;
    by_time_.emplace(deadline_ms, id);
    fns_.emplace(id, std::make_pair(deadline_ms, std::move(fn)));
    return id;
  }
  void cancel(Id id) {
    auto it = fns_.find(id);
    if (it == fns_.end()) return;
    auto range = by_time_.equal_range(it->second.first);
    for (auto t = range.first; t != range.second; ++t) {
      if (t->second == id) {
        by_time_.erase(t);
        break;
      }
    }
    fns_.erase(it);
  }
  bool empty() const { return by_time_.empty(); }
  // The earliest deadline; only when !empty().
  std::uint64_t next_deadline() const { return by_time_.begin()->first; }
  // Removes and returns the earliest callback if it is due at `now_ms`.
  std::optional<std::function<void()>> pop_due(std::uint64_t now_ms) {
    while (!by_time_.empty() && by_time_.begin()->first <= now_ms) {
      Id id = by_time_.begin()->second;
      by_time_.erase(by_time_.begin());
      auto it = fns_.find(id);
      if (it == fns_.end()) continue;
      std::function<void()> fn = std::move(it->second.second);
      fns_.erase(it);
      return fn;
    }
    return std::nullopt;
  }

 private:
  std::multimap<std::uint64_t, Id> by_time_;
  std::unordered_map<Id, std::pair<std::uint64_t, std::function<void()>>> fns_;
  Id next_id_ = 1;
};

}  // namespace chorus
