// Sorting inside the CRDT: a check for order (most inputs here already are sorted), then a
// heap sort. Used instead of std::sort because the browser module has a size budget and
// every std::sort instantiation adds 3 to 6 kB of WebAssembly (introsort with its
// insertion-sort and sorting-network helpers, per element and comparator type): the eight
// sorts of this folder were a fifth of the module. A heap sort instantiates two short loops;
// it is slower on large unsorted inputs, which only whole-document encodes and large remote
// updates produce. Not stable. Internal.
#pragma once

#include <algorithm>
#include <functional>

namespace chorus::collab::detail {

template <class It, class Less>
void compact_sort(It first, It last, Less less) {
  if (last - first < 2 || std::is_sorted(first, last, less)) return;
  std::make_heap(first, last, less);
  std::sort_heap(first, last, less);
}

template <class It>
void compact_sort(It first, It last) {
  compact_sort(first, last, std::less<>());
}

}  // namespace chorus::collab::detail
