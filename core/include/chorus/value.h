// chorus::Value: the event-argument type shared by the server API and the browser SDK.
//
// A JSON value plus one extra kind, Binary, for Socket.IO binary attachments. Numbers are
// IEEE doubles, exactly as in JavaScript (integers are exact up to 2^53). Objects keep
// insertion order; setting an existing key replaces its value (as JSON.parse does for a
// duplicate key).
//
// Thread-safety: a plain value type. Concurrent reads are safe; writes need exclusion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace chorus {

class Value;
using Binary = std::vector<std::uint8_t>;
using Array = std::vector<Value>;
struct Member;
using Object = std::vector<Member>;

class Value {
 public:
  enum class Type : std::uint8_t { kNull, kBool, kNumber, kString, kBinary, kArray, kObject };

  Value() = default;
  Value(std::nullptr_t) {}                                // NOLINT(google-explicit-constructor)
  Value(bool b) : v_(b) {}                                // NOLINT(google-explicit-constructor)
  Value(int n) : v_(static_cast<double>(n)) {}            // NOLINT(google-explicit-constructor)
  Value(unsigned n) : v_(static_cast<double>(n)) {}       // NOLINT(google-explicit-constructor)
  Value(std::int64_t n) : v_(static_cast<double>(n)) {}   // NOLINT(google-explicit-constructor)
  Value(std::uint64_t n) : v_(static_cast<double>(n)) {}  // NOLINT(google-explicit-constructor)
  Value(double n) : v_(n) {}                              // NOLINT(google-explicit-constructor)
  Value(const char* s) : v_(std::string(s)) {}            // NOLINT(google-explicit-constructor)
  Value(std::string s) : v_(std::move(s)) {}              // NOLINT(google-explicit-constructor)
  Value(std::string_view s) : v_(std::string(s)) {}       // NOLINT(google-explicit-constructor)
  Value(Binary b) : v_(std::move(b)) {}                   // NOLINT(google-explicit-constructor)
  Value(Array a) : v_(std::move(a)) {}                    // NOLINT(google-explicit-constructor)
  Value(Object o);                                        // NOLINT(google-explicit-constructor)

  // Value::array({1, "two", nullptr}), Value::object({{"k", 1}, {"n", Value::array({})}}).
  static Value array(std::initializer_list<Value> items = {});
  static Value object(std::initializer_list<Member> members = {});
  static Value binary(const void* data, std::size_t size);

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_binary() const { return type() == Type::kBinary; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors: call only for the matching type (checked with assert in debug builds).
  bool as_bool() const { return std::get<bool>(v_); }
  double as_number() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  std::string& as_string() { return std::get<std::string>(v_); }
  const Binary& as_binary() const { return std::get<Binary>(v_); }
  Binary& as_binary() { return std::get<Binary>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Lenient lookups: a default when the type or key does not match.
  bool get_bool(bool fallback = false) const { return is_bool() ? as_bool() : fallback; }
  double get_number(double fallback = 0) const { return is_number() ? as_number() : fallback; }
  std::string get_string(std::string_view fallback = {}) const {
    return is_string() ? as_string() : std::string(fallback);
  }

  // Objects: nullptr when absent or not an object.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Objects: insert or replace (a null Value becomes an empty object first).
  Value& set(std::string key, Value value);
  // Arrays: append (a null Value becomes an empty array first).
  Value& push_back(Value value);

  std::size_t size() const;  // elements of an array, members of an object, else 0
  const Value& operator[](std::size_t i) const { return as_array()[i]; }
  Value& operator[](std::size_t i) { return as_array()[i]; }

  // True when this value or anything inside it is Binary.
  bool has_binary() const;

  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  std::variant<std::monostate, bool, double, std::string, Binary, Array, Object> v_;
};

struct Member {
  std::string key;
  Value value;
};

}  // namespace chorus
