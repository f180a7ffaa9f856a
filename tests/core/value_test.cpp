#include "chorus/value.h"

#include <gtest/gtest.h>

namespace chorus {
namespace {

TEST(Value, BuildAndRead) {
  Value v = Value::object({{"name", "ada"}, {"n", 3}, {"tags", Value::array({"a", true, nullptr})}});
  EXPECT_TRUE(v.is_object());
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v.find("name")->as_string(), "ada");
  EXPECT_EQ(v.find("n")->as_number(), 3);
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ((*v.find("tags"))[1].as_bool(), true);
  EXPECT_TRUE((*v.find("tags"))[2].is_null());
  EXPECT_EQ(v.find("name")->get_number(7), 7);
  EXPECT_EQ(Value(5).get_string("x"), "x");
}

TEST(Value, SetReplacesAndKeepsOrder) {
  Value v;
  v.set("a", 1);
  v.set("b", 2);
  v.set("a", 3);
  ASSERT_EQ(v.as_object().size(), 2u);
  EXPECT_EQ(v.as_object()[0].key, "a");
  EXPECT_EQ(v.as_object()[0].value.as_number(), 3);
}

TEST(Value, EqualityIgnoresObjectKeyOrder) {
  EXPECT_EQ(Value::object({{"a", 1}, {"b", 2}}), Value::object({{"b", 2}, {"a", 1}}));
  EXPECT_NE(Value::object({{"a", 1}}), Value::object({{"a", 2}}));
  EXPECT_NE(Value(1), Value("1"));
  EXPECT_EQ(Value::array({1, "x"}), Value::array({1, "x"}));
}

TEST(Value, BinaryDetection) {
  EXPECT_FALSE(Value::array({1, "x"}).has_binary());
  Value nested = Value::array({1, Value::object({{"deep", Value::array({Value::binary("\x01", 1)})}})});
  EXPECT_TRUE(nested.has_binary());
}

}  // namespace
}  // namespace chorus
