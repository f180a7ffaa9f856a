// Doc: the public face of DocCore (units and sizes converted, nothing else).
#include "chorus/collab/doc.h"

#include "doc_core.h"

namespace chorus::collab {

Doc::Doc(ClientId client, DocOptions options) : core_(std::make_unique<detail::DocCore>(client, options)) {}
Doc::~Doc() = default;
Doc::Doc(Doc&&) noexcept = default;
Doc& Doc::operator=(Doc&&) noexcept = default;

ClientId Doc::client_id() const {
  return core_->client_id();
}

Status Doc::insert(std::size_t pos, std::string_view text, Unit unit) {
  return core_->insert(pos, text, unit);
}

Status Doc::erase(std::size_t pos, std::size_t len, Unit unit) {
  return core_->erase(pos, len, unit, nullptr);
}

bool Doc::has_local_changes() const {
  return core_->has_local_changes();
}
std::string Doc::take_update() {
  return core_->take_update();
}
std::string Doc::text() const {
  return core_->text();
}
std::size_t Doc::length(Unit unit) const {
  return static_cast<std::size_t>(core_->length(unit));
}

Result<std::size_t> Doc::convert(std::size_t pos, Unit from, Unit to) const {
  auto r = core_->convert(pos, from, to);
  if (!r.ok()) return r.error();
  return static_cast<std::size_t>(r.value());
}

StateVector Doc::state_vector() const {
  return core_->state_vector();
}

std::string Doc::encode_state_as_update(const StateVector* since) const {
  return core_->encode(since);
}

Result<std::string> Doc::encode_state_as_update(std::string_view encoded_state_vector) const {
  auto sv = StateVector::decode(encoded_state_vector);
  if (!sv.ok()) return sv.error();
  return core_->encode(&sv.value());
}

Status Doc::apply_update(std::string_view update, TextDelta* delta) {
  return core_->apply(update, delta);
}

std::size_t Doc::pending_count() const {
  return core_->pending_count();
}
std::size_t Doc::dropped_pending() const {
  return core_->dropped_pending();
}
std::size_t Doc::pending_bytes() const {
  return core_->pending_bytes();
}
Result<std::size_t> Doc::pending_cost(std::string_view update) const {
  return core_->pending_cost(update);
}
std::string Doc::encode_pending() const {
  return core_->encode_pending();
}

Result<RelativePosition> Doc::relative_position(std::size_t pos, Assoc assoc, Unit unit) const {
  return core_->relative_position(pos, assoc, unit);
}

Result<std::size_t> Doc::resolve(const RelativePosition& position, Unit unit) const {
  auto r = core_->resolve(position, unit);
  if (!r.ok()) return r.error();
  return static_cast<std::size_t>(r.value());
}

std::size_t Doc::deleted_length() const {
  return static_cast<std::size_t>(core_->deleted_length());
}
std::size_t Doc::item_count() const {
  return core_->item_count();
}
std::size_t Doc::memory_usage() const {
  return core_->memory_usage() + sizeof(Doc);
}
std::string Doc::check_invariants() const {
  return core_->check_invariants();
}

}  // namespace chorus::collab
