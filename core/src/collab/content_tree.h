// ContentTree: the document's items in document order, in a B+tree whose inner nodes keep
// the summed Weights of each child. Lookups by visible position (in any Unit) and prefix
// sums (the position of an item) are O(log n); leaves are linked for scans and keep their
// items inline (no pointer per character run). Items are never removed (tombstones stay), so
// nodes only split, and a leaf's number (its index in leaves_) is stable for the index from
// Ids to leaves. Internal to core/src/collab.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "chorus/collab/id.h"
#include "item.h"

namespace chorus::collab::detail {

// Measured on the automerge-paper trace: leaves of 16 to 128 items and fan-outs of 8 to 32
// were tried; 32 / 16 is among the fastest (within the noise of 24 / 8). Larger leaves cost
// more in the shifts of every insert, smaller ones more levels and more leaf splits.
inline constexpr std::uint32_t kLeafCapacity = 32;
inline constexpr std::uint32_t kInnerCapacity = 16;

struct Inner;

struct Node {
  Inner* parent = nullptr;
  std::uint32_t count = 0;
  bool is_leaf = true;
};

struct Leaf : Node {
  std::uint32_t number = 0;  // index in ContentTree::leaves_
  Leaf* prev = nullptr;
  Leaf* next = nullptr;
  Item items[kLeafCapacity];
};

struct Inner : Node {
  Node* child[kInnerCapacity] = {};
  Weights weight[kInnerCapacity];
};

// A place in the tree: the item at leaf->items[index].
struct Cursor {
  Leaf* leaf = nullptr;
  std::uint32_t index = 0;

  bool valid() const { return leaf != nullptr; }
  Item& item() const { return leaf->items[index]; }
};

// Told about items that move to another leaf when a leaf splits.
class LeafMoveListener {
 public:
  virtual void on_item_moved(const Item& item, std::uint32_t leaf_number) = 0;

 protected:
  ~LeafMoveListener() = default;
};

class ContentTree {
 public:
  explicit ContentTree(LeafMoveListener* listener);
  ~ContentTree();
  ContentTree(const ContentTree&) = delete;
  ContentTree& operator=(const ContentTree&) = delete;

  const Weights& total() const { return total_; }
  bool empty() const { return total_.all == 0; }
  Leaf* first_leaf() const { return leaves_.front(); }
  Leaf* last_leaf() const { return last_; }
  // Where an item appended at the very end of the document goes.
  Cursor end() const { return Cursor{last_, last_->count}; }
  Leaf* leaf(std::uint32_t number) const { return leaves_[number]; }
  std::size_t leaf_count() const { return leaves_.size(); }

  // First item in document order (invalid when the document is empty).
  Cursor begin() const;
  // The item after / before `at` (invalid at the end / start).
  static Cursor next(Cursor at);
  static Cursor prev(Cursor at);

  // The item holding visible unit `pos` (pos < total().get(unit)); `*offset` receives the
  // units of that item before `pos`.
  Cursor find_visible(std::uint64_t pos, Unit unit, std::uint64_t* offset) const;

  // Sum of the weights of every item before `at`.
  Weights prefix(Cursor at) const;

  // Inserts `item` before `at` (at.index may equal the leaf's count: append to that leaf).
  // Returns where the item landed; cursors into the affected leaf are invalidated.
  Cursor insert(Cursor at, const Item& item);
  // Same, for an item whose weight the leaf of `at` already counts (the tail of an item split
  // in two, the head having kept the whole weight); the leaf must have room.
  Cursor insert_counted(Cursor at, const Item& item);
  bool full(const Leaf* leaf) const { return leaf->count == kLeafCapacity; }

  // Removes the item at `at` whose weight the caller moved to a neighbour in the same leaf
  // (the leaf's weight is unchanged). The leaf must keep at least one item.
  static void remove_in_leaf(Cursor at);

  // The caller changed the weights of an item in `leaf` by `delta` (its length, or its
  // deleted flag): propagate to the ancestors.
  void add_weight(Leaf* leaf, const Weights& delta);
  void sub_weight(Leaf* leaf, const Weights& delta);

  std::size_t memory_usage() const;
  // Empty when the stored weights, parent links and leaf links are consistent.
  std::string check() const;

 private:
  Leaf* new_leaf();
  void insert_sibling(Node* node, Node* sibling, const Weights& node_weight, const Weights& sibling_weight);
  static std::uint32_t index_in_parent(const Node* node);

  // The leaf of the last visible-position lookup and the weights before it: editors edit
  // near their last edit, so most lookups scan this leaf instead of descending. Any weight
  // change in another leaf may move its start, and forgets it.
  mutable const Leaf* hint_leaf_ = nullptr;
  mutable Weights hint_start_;

  LeafMoveListener* listener_;
  Node* root_ = nullptr;
  Weights total_;
  std::vector<Leaf*> leaves_;
  Leaf* last_ = nullptr;
  std::size_t inner_count_ = 0;
};

}  // namespace chorus::collab::detail
