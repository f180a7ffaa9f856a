#include "chorus/client/wire_value.h"

#include <gtest/gtest.h>

namespace chorus::client {
namespace {

TEST(ClientWireValue, BinariesBecomePlaceholdersAndComeBack) {
  Value v = Value::array(
      {"file", Value::object({{"name", "a"}, {"bytes", Value::binary("\x01\x02", 2)}}), Value::binary("", 0)});
  Value original = v;
  std::string json;
  std::vector<Binary> bins;
  ASSERT_TRUE(to_wire(std::move(v), json, bins).ok());
  EXPECT_EQ(json, R"(["file",{"name":"a","bytes":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}])");
  ASSERT_EQ(bins.size(), 2u);
  EXPECT_EQ(bins[0], (Binary{1, 2}));
  auto back = from_wire(json, bins);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, original);
}

TEST(ClientWireValue, RejectsBadPlaceholders) {
  EXPECT_FALSE(from_wire(R"([{"_placeholder":true,"num":1}])", {Binary{1}}).ok());
  EXPECT_FALSE(from_wire(R"([{"_placeholder":true,"num":0.5}])", {Binary{1}}).ok());
  EXPECT_FALSE(from_wire(R"([{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}])", {Binary{1}}).ok());
  EXPECT_FALSE(from_wire(R"([{"_placeholder":true}])", {Binary{1}}).ok());
  // Without binaries, a look-alike object is plain data (as JSON.parse would leave it).
  EXPECT_TRUE(from_wire(R"([{"_placeholder":true,"num":0}])", {}).ok());
  EXPECT_FALSE(from_wire("[1,", {}).ok());
}

TEST(ClientWireValue, DepthLimitAtAndPastIt) {
  Limits l;
  l.max_json_depth = 3;
  // The placeholder object counts as a level: [[{placeholder}]] is 3 deep.
  Value at = Value::array({Value::array({Value::binary("x", 1)})});
  std::string json;
  std::vector<Binary> bins;
  EXPECT_TRUE(to_wire(std::move(at), json, bins, l).ok());
  Value past = Value::array({Value::array({Value::array({Value::binary("x", 1)})})});
  json.clear();
  bins.clear();
  EXPECT_FALSE(to_wire(std::move(past), json, bins, l).ok());
}

}  // namespace
}  // namespace chorus::client
