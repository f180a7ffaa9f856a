// ClockIndex: for one client, which leaf of the ContentTree holds the item starting at each
// of its clocks. One entry per item (the item's first clock); an item splitting adds an entry
// for its tail, a leaf splitting re-points the entries of the items it moved.
//
// Entries sit in sorted blocks of at most kBlock (a two-level B-tree): lookups are two binary
// searches, an insert in the middle shifts one block rather than the whole index, and the
// common case (a new item at the client's newest clock) is an append. Internal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "chorus/collab/id.h"

namespace chorus::collab::detail {

class ClockIndex {
 public:
  struct Entry {
    Clock clock;
    std::uint32_t leaf;
  };

  // Adds an entry for an item starting at `clock` (not present yet).
  void insert(Clock clock, std::uint32_t leaf) {
    if (blocks_.empty()) {
      blocks_.emplace_back();
      firsts_.push_back(clock);
    }
    std::size_t b = block_for(clock);
    std::vector<Entry>& block = blocks_[b];
    auto it = std::upper_bound(block.begin(), block.end(), clock, [](Clock c, const Entry& e) { return c < e.clock; });
    block.insert(it, Entry{clock, leaf});
    firsts_[b] = block.front().clock;
    ++size_;
    if (block.size() >= kBlock) split(b);
  }

  // Leaf of the item holding `clock`: the entry with the greatest clock <= `clock`.
  // Requires a non-empty index whose first entry is <= clock.
  std::uint32_t find(Clock clock) const {
    const std::vector<Entry>& block = blocks_[block_for(clock)];
    auto it = std::upper_bound(block.begin(), block.end(), clock, [](Clock c, const Entry& e) { return c < e.clock; });
    return std::prev(it)->leaf;
  }

  // Re-points the entry starting exactly at `clock`.
  void set(Clock clock, std::uint32_t leaf) {
    std::vector<Entry>& block = blocks_[block_for(clock)];
    auto it = std::lower_bound(block.begin(), block.end(), clock, [](const Entry& e, Clock c) { return e.clock < c; });
    if (it != block.end() && it->clock == clock) it->leaf = leaf;
  }

  // Moves the entry starting exactly at `from` to `to` (an item whose first clock moved); no
  // other entry may lie between the two.
  void rekey(Clock from, Clock to) {
    std::size_t b = block_for(from);
    std::vector<Entry>& block = blocks_[b];
    auto it = std::lower_bound(block.begin(), block.end(), from, [](const Entry& e, Clock c) { return e.clock < c; });
    if (it == block.end() || it->clock != from) return;
    it->clock = to;
    firsts_[b] = block.front().clock;
  }

  // Removes the entry starting exactly at `clock` (an item merged into its predecessor).
  void erase(Clock clock) {
    std::size_t b = block_for(clock);
    std::vector<Entry>& block = blocks_[b];
    auto it = std::lower_bound(block.begin(), block.end(), clock, [](const Entry& e, Clock c) { return e.clock < c; });
    if (it == block.end() || it->clock != clock) return;
    block.erase(it);
    --size_;
    if (block.empty()) {
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
      firsts_.erase(firsts_.begin() + static_cast<std::ptrdiff_t>(b));
    } else {
      firsts_[b] = block.front().clock;
    }
  }

  bool has(Clock clock) const {
    if (blocks_.empty()) return false;
    const std::vector<Entry>& block = blocks_[block_for(clock)];
    auto it = std::lower_bound(block.begin(), block.end(), clock, [](const Entry& e, Clock c) { return e.clock < c; });
    return it != block.end() && it->clock == clock;
  }

  std::size_t size() const { return size_; }
  std::size_t memory_usage() const {
    std::size_t n = firsts_.capacity() * sizeof(Clock) + blocks_.capacity() * sizeof(std::vector<Entry>);
    for (const auto& b : blocks_) n += b.capacity() * sizeof(Entry);
    return n;
  }

  // Calls f(entry) for the entry holding `clock` and every later one, in clock order.
  template <class F>
  void for_each_from(Clock clock, F&& f) const {
    if (blocks_.empty()) return;
    std::size_t b = block_for(clock);
    const std::vector<Entry>& block = blocks_[b];
    auto it = std::upper_bound(block.begin(), block.end(), clock, [](Clock c, const Entry& e) { return c < e.clock; });
    if (it != block.begin()) --it;
    for (; it != block.end(); ++it) f(*it);
    for (++b; b < blocks_.size(); ++b) {
      for (const Entry& e : blocks_[b]) f(e);
    }
  }

  // Calls f(entry) for every entry in clock order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& block : blocks_) {
      for (const Entry& e : block) f(e);
    }
  }

 private:
  static constexpr std::size_t kBlock = 128;

  std::size_t block_for(Clock clock) const {
    // Edits mostly touch recent items: the newest block first.
    if (!firsts_.empty() && clock >= firsts_.back()) return firsts_.size() - 1;
    auto it = std::upper_bound(firsts_.begin(), firsts_.end(), clock);
    return it == firsts_.begin() ? 0 : static_cast<std::size_t>(it - firsts_.begin()) - 1;
  }

  void split(std::size_t b) {
    std::vector<Entry>& block = blocks_[b];
    std::vector<Entry> right(block.begin() + kBlock / 2, block.end());
    block.resize(kBlock / 2);
    Clock first = right.front().clock;
    blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(b) + 1, std::move(right));
    firsts_.insert(firsts_.begin() + static_cast<std::ptrdiff_t>(b) + 1, first);
  }

  std::vector<std::vector<Entry>> blocks_;
  std::vector<Clock> firsts_;
  std::size_t size_ = 0;
};

}  // namespace chorus::collab::detail
