#include "content_tree.h"

#include <string>
#include <utility>

namespace chorus::collab::detail {
namespace {

void free_node(Node* node) {
  if (node->is_leaf) return;  // leaves are owned by leaves_
  auto* inner = static_cast<Inner*>(node);
  for (std::uint32_t i = 0; i < inner->count; ++i) free_node(inner->child[i]);
  delete inner;
}

Weights sum_items(const Leaf* leaf, std::uint32_t from, std::uint32_t to) {
  Weights w;
  for (std::uint32_t i = from; i < to; ++i) w += leaf->items[i].weights();
  return w;
}

}  // namespace

ContentTree::ContentTree(LeafMoveListener* listener) : listener_(listener) {
  root_ = new_leaf();
  last_ = static_cast<Leaf*>(root_);
}

ContentTree::~ContentTree() {
  free_node(root_);
  for (Leaf* leaf : leaves_) delete leaf;
}

Leaf* ContentTree::new_leaf() {
  auto* leaf = new Leaf;
  leaf->number = static_cast<std::uint32_t>(leaves_.size());
  leaves_.push_back(leaf);
  return leaf;
}

Cursor ContentTree::begin() const {
  Leaf* leaf = leaves_.front();
  return leaf->count ? Cursor{leaf, 0} : Cursor{};
}

Cursor ContentTree::next(Cursor at) {
  if (at.index + 1 < at.leaf->count) return Cursor{at.leaf, at.index + 1};
  return at.leaf->next ? Cursor{at.leaf->next, 0} : Cursor{};
}

Cursor ContentTree::prev(Cursor at) {
  if (at.index > 0) return Cursor{at.leaf, at.index - 1};
  Leaf* p = at.leaf->prev;
  return p ? Cursor{p, p->count - 1} : Cursor{};
}

std::uint32_t ContentTree::index_in_parent(const Node* node) {
  const Inner* p = node->parent;
  std::uint32_t i = 0;
  while (p->child[i] != node) ++i;
  return i;
}

namespace {

// The item of `leaf` holding visible unit `pos` (counted from the leaf's start), if any.
Cursor scan_leaf(const Leaf* leaf, std::uint64_t pos, Unit unit, std::uint64_t* offset) {
  for (std::uint32_t i = 0; i < leaf->count; ++i) {
    const Item& item = leaf->items[i];
    if (item.deleted) continue;
    std::uint64_t w = unit == Unit::kUtf16 ? item.u16_len : unit == Unit::kUtf8 ? item.byte_len : item.len;
    if (pos < w) {
      *offset = pos;
      return Cursor{const_cast<Leaf*>(leaf), i};
    }
    pos -= w;
  }
  return Cursor{};
}

}  // namespace

Cursor ContentTree::find_visible(std::uint64_t pos, Unit unit, std::uint64_t* offset) const {
  if (pos >= total_.get(unit)) return Cursor{};
  if (hint_leaf_) {
    std::uint64_t start = hint_start_.get(unit);
    if (pos >= start) {
      Cursor c = scan_leaf(hint_leaf_, pos - start, unit, offset);
      if (c.valid()) return c;
    }
  }
  Weights before;
  const Node* node = root_;
  while (!node->is_leaf) {
    const auto* inner = static_cast<const Inner*>(node);
    std::uint32_t i = 0;
    for (;; ++i) {
      std::uint64_t w = inner->weight[i].get(unit);
      if (pos < w || i + 1 == inner->count) break;
      pos -= w;
      before += inner->weight[i];
    }
    node = inner->child[i];
  }
  const auto* leaf = static_cast<const Leaf*>(node);
  hint_leaf_ = leaf;
  hint_start_ = before;
  return scan_leaf(leaf, pos, unit, offset);
}

Weights ContentTree::prefix(Cursor at) const {
  Weights w = sum_items(at.leaf, 0, at.index);
  const Node* node = at.leaf;
  while (node->parent) {
    const Inner* p = node->parent;
    for (std::uint32_t i = 0; p->child[i] != node; ++i) w += p->weight[i];
    node = p;
  }
  return w;
}

void ContentTree::add_weight(Leaf* leaf, const Weights& delta) {
  if (leaf != hint_leaf_) hint_leaf_ = nullptr;
  total_ += delta;
  Node* node = leaf;
  while (node->parent) {
    Inner* p = node->parent;
    p->weight[index_in_parent(node)] += delta;
    node = p;
  }
}

void ContentTree::sub_weight(Leaf* leaf, const Weights& delta) {
  if (leaf != hint_leaf_) hint_leaf_ = nullptr;
  total_ -= delta;
  Node* node = leaf;
  while (node->parent) {
    Inner* p = node->parent;
    p->weight[index_in_parent(node)] -= delta;
    node = p;
  }
}

// Links `sibling` right after `node` under node's parent, splitting parents as needed.
// `node_weight` + `sibling_weight` equals node's weight before the split, so ancestors above
// the parent keep their sums.
void ContentTree::insert_sibling(Node* node, Node* sibling, const Weights& node_weight, const Weights& sibling_weight) {
  Inner* p = node->parent;
  std::uint32_t pos;
  if (!p) {
    p = new Inner;
    ++inner_count_;
    p->is_leaf = false;
    p->child[0] = node;
    p->weight[0] = node_weight;
    p->count = 1;
    node->parent = p;
    root_ = p;
    pos = 1;
  } else {
    std::uint32_t i = index_in_parent(node);
    p->weight[i] = node_weight;
    pos = i + 1;
  }
  if (p->count == kInnerCapacity) {
    auto* q = new Inner;
    ++inner_count_;
    q->is_leaf = false;
    constexpr std::uint32_t kHalf = kInnerCapacity / 2;
    Weights wq;
    for (std::uint32_t i = kHalf; i < kInnerCapacity; ++i) {
      q->child[i - kHalf] = p->child[i];
      q->weight[i - kHalf] = p->weight[i];
      q->child[i - kHalf]->parent = q;
      wq += p->weight[i];
    }
    q->count = kInnerCapacity - kHalf;
    p->count = kHalf;
    Weights wp;
    for (std::uint32_t i = 0; i < kHalf; ++i) wp += p->weight[i];
    // The sibling joins one of the halves below: count it there now, so that p's recorded
    // weight plus q's equals p's weight before the split.
    bool to_right = pos > kHalf;
    (to_right ? wq : wp) += sibling_weight;
    insert_sibling(p, q, wp, wq);
    if (to_right) {
      p = q;
      pos -= kHalf;
    }
  }
  for (std::uint32_t i = p->count; i > pos; --i) {
    p->child[i] = p->child[i - 1];
    p->weight[i] = p->weight[i - 1];
  }
  p->child[pos] = sibling;
  p->weight[pos] = sibling_weight;
  sibling->parent = p;
  ++p->count;
}

Cursor ContentTree::insert(Cursor at, const Item& item) {
  Leaf* leaf = at.leaf;
  std::uint32_t index = at.index;
  if (leaf->count == kLeafCapacity) {
    // Appending at the end of the last leaf is the typing pattern: keep the old leaf full
    // then, so that a document typed front to back packs its leaves.
    std::uint32_t split = (index == kLeafCapacity && !leaf->next) ? kLeafCapacity - 1 : kLeafCapacity / 2;
    Leaf* right = new_leaf();
    for (std::uint32_t i = split; i < kLeafCapacity; ++i) {
      right->items[i - split] = leaf->items[i];
    }
    right->count = kLeafCapacity - split;
    leaf->count = split;
    right->next = leaf->next;
    right->prev = leaf;
    if (leaf->next) {
      leaf->next->prev = right;
    } else {
      last_ = right;
    }
    leaf->next = right;
    Weights wr = sum_items(right, 0, right->count);
    Weights wl = sum_items(leaf, 0, leaf->count);
    insert_sibling(leaf, right, wl, wr);
    for (std::uint32_t i = 0; i < right->count; ++i) {
      listener_->on_item_moved(right->items[i], right->number);
    }
    if (index >= split) {
      leaf = right;
      index -= split;
    }
  }
  for (std::uint32_t i = leaf->count; i > index; --i) leaf->items[i] = leaf->items[i - 1];
  leaf->items[index] = item;
  ++leaf->count;
  add_weight(leaf, item.weights());
  return Cursor{leaf, index};
}

Cursor ContentTree::insert_counted(Cursor at, const Item& item) {
  Leaf* leaf = at.leaf;
  for (std::uint32_t i = leaf->count; i > at.index; --i) leaf->items[i] = leaf->items[i - 1];
  leaf->items[at.index] = item;
  ++leaf->count;
  return at;
}

void ContentTree::remove_in_leaf(Cursor at) {
  Leaf* leaf = at.leaf;
  for (std::uint32_t i = at.index + 1; i < leaf->count; ++i) leaf->items[i - 1] = leaf->items[i];
  --leaf->count;
}

std::size_t ContentTree::memory_usage() const {
  return leaves_.size() * (sizeof(Leaf) + sizeof(void*)) + inner_count_ * sizeof(Inner);
}

namespace {

bool same(const Weights& a, const Weights& b) {
  return a.cp == b.cp && a.u16 == b.u16 && a.u8 == b.u8 && a.all == b.all;
}

// Checks the subtree under `node`, returning its weight through `out`.
std::string check_node(const Node* node, Weights* out) {
  if (node->is_leaf) {
    const auto* leaf = static_cast<const Leaf*>(node);
    *out = sum_items(leaf, 0, leaf->count);
    if (leaf->count == 0 && leaf->number != 0) return "empty leaf";
    return {};
  }
  const auto* inner = static_cast<const Inner*>(node);
  if (inner->count == 0) return "empty inner node";
  Weights total;
  for (std::uint32_t i = 0; i < inner->count; ++i) {
    if (inner->child[i]->parent != inner) return "bad parent link";
    Weights w;
    std::string err = check_node(inner->child[i], &w);
    if (!err.empty()) return err;
    if (!same(w, inner->weight[i])) return "stale child weight";
    total += w;
  }
  *out = total;
  return {};
}

}  // namespace

std::string ContentTree::check() const {
  Weights w;
  std::string err = check_node(root_, &w);
  if (!err.empty()) return err;
  if (!same(w, total_)) return "stale total";
  if (root_->parent) return "root has a parent";
  // Leaves linked in document order, each visited once.
  std::size_t linked = 0;
  const Leaf* prev = nullptr;
  for (const Leaf* leaf = leaves_.front(); leaf; leaf = leaf->next) {
    if (leaf->prev != prev) return "bad prev link";
    prev = leaf;
    ++linked;
  }
  if (linked != leaves_.size()) return "leaf chain misses leaves";
  return {};
}

}  // namespace chorus::collab::detail
