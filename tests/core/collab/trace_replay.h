// Replaying the shared/traces through chorus::collab::Doc, shared by the tests and
// bench/collab.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chorus/collab/doc.h"
#include "core/collab/trace_reader.h"

namespace chorus::collab::trace {

// Applies flat edits as local edits, one change per edit (positions in code points, which
// is what the traces count). Returns false on the first edit the Doc rejects.
inline bool replay_flat(Doc& doc, const std::vector<Edit>& edits, std::size_t count, Unit unit = Unit::kCodePoint) {
  for (std::size_t i = 0; i < count && i < edits.size(); ++i) {
    const Edit& e = edits[i];
    if (e.del && !doc.erase(e.pos, e.del, unit).ok()) return false;
    if (!e.ins.empty() && !doc.insert(e.pos, e.ins, unit).ok()) return false;
  }
  return true;
}

// concurrent-v1: one replica per agent; before transaction i runs on its agent's replica,
// the updates of its missing ancestors are applied (in index order, which is a topological
// order); the transaction's patches then form one local change whose update is kept.
// Finally every replica receives every update. Returns false on any rejected operation.
struct ConcurrentReplay {
  std::vector<std::unique_ptr<Doc>> replicas;
  std::vector<std::string> updates;  // per transaction
  std::size_t merges = 0;            // remote updates applied before the final merge
};

inline bool replay_concurrent(const ConcurrentTrace& t, ConcurrentReplay* out, std::size_t txn_count = ~std::size_t{0},
                              bool final_merge = true) {
  std::size_t n = std::min(txn_count, t.txns.size());
  out->replicas.clear();
  for (std::uint32_t a = 0; a < t.num_agents; ++a) {
    out->replicas.push_back(std::make_unique<Doc>(ClientId{1000} + a));
  }
  out->updates.assign(n, std::string());
  std::vector<std::vector<bool>> has(t.num_agents, std::vector<bool>(n, false));
  std::vector<std::uint32_t> stack;
  std::vector<std::uint32_t> missing;
  for (std::size_t i = 0; i < n; ++i) {
    const Txn& txn = t.txns[i];
    if (txn.agent >= t.num_agents) return false;
    Doc& doc = *out->replicas[txn.agent];
    std::vector<bool>& mine = has[txn.agent];
    missing.clear();
    stack.assign(txn.parents.begin(), txn.parents.end());
    while (!stack.empty()) {
      std::uint32_t p = stack.back();
      stack.pop_back();
      if (p >= i) return false;
      if (mine[p]) continue;
      mine[p] = true;
      missing.push_back(p);
      for (std::uint32_t q : t.txns[p].parents) stack.push_back(q);
    }
    std::sort(missing.begin(), missing.end());
    for (std::uint32_t p : missing) {
      if (!doc.apply_update(out->updates[p]).ok()) return false;
      ++out->merges;
    }
    for (const Edit& e : txn.patches) {
      if (e.del && !doc.erase(e.pos, e.del, Unit::kCodePoint).ok()) return false;
      if (!e.ins.empty() && !doc.insert(e.pos, e.ins, Unit::kCodePoint).ok()) return false;
    }
    out->updates[i] = doc.take_update();
    mine[i] = true;
  }
  if (final_merge) {
    for (std::uint32_t a = 0; a < t.num_agents; ++a) {
      for (std::size_t i = 0; i < n; ++i) {
        if (!has[a][i] && !out->replicas[a]->apply_update(out->updates[i]).ok()) return false;
      }
    }
  }
  return true;
}

}  // namespace chorus::collab::trace
