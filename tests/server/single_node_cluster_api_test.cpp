// The cluster-wide operations of the server API on a single node (no Redis): each completes
// at once with this node's answers, as there is no other node to wait for.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "chorus/server.h"

namespace {

using chorus::AckError;
using chorus::Args;
using namespace std::chrono_literals;

TEST(SingleNodeClusterApi, ServerSideEmitWithAckCompletesAtOnceWithNoResponses) {
  chorus::Server server;
  int calls = 0;
  std::optional<AckError> error;
  Args responses{1};
  server.of("/").server_side_emit_with_ack("hello", {1, "x"}, 5s, [&](std::optional<AckError> err, Args r) {
    ++calls;
    error = std::move(err);
    responses = std::move(r);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(error.has_value());
  EXPECT_TRUE(responses.empty());
  EXPECT_TRUE(server.of("/").server_side_emit("hello", {1}));
}

TEST(SingleNodeClusterApi, ReservedServerEventNamesAreRefused) {
  chorus::Server server;
  for (const char* name :
       {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}) {
    EXPECT_FALSE(server.of("/").server_side_emit(name)) << name;
    std::optional<AckError> error;
    server.of("/").server_side_emit_with_ack(name, {}, 1s, [&](std::optional<AckError> err, Args) { error = err; });
    ASSERT_TRUE(error.has_value()) << name;
    EXPECT_NE(error->message.find("reserved"), std::string::npos) << error->message;
  }
}

TEST(SingleNodeClusterApi, BroadcastWithAcksToNobodyCompletesAtOnce) {
  chorus::Server server;
  int calls = 0;
  std::optional<AckError> error;
  Args responses{1};
  ASSERT_TRUE(server.of("/").timeout(5s).emit_with_ack("ask", {1}, [&](std::optional<AckError> err, Args r) {
    ++calls;
    error = std::move(err);
    responses = std::move(r);
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(error.has_value());
  EXPECT_TRUE(responses.empty());
}

TEST(SingleNodeClusterApi, BroadcastWithAcksRefusesWhatCannotBeEncoded) {
  chorus::Server server;
  bool called = false;
  EXPECT_FALSE(
      server.of("/").all().emit_with_ack("connect", {}, [&](std::optional<AckError>, Args) { called = true; }));
  EXPECT_FALSE(called);
}

TEST(SingleNodeClusterApi, FetchAndAllRoomsOfAnEmptyNamespace) {
  chorus::Server server;
  EXPECT_TRUE(server.of("/").fetch_sockets().empty());
  int calls = 0;
  server.of("/").fetch_sockets([&](std::optional<AckError> err, std::vector<chorus::RemoteSocket> s) {
    ++calls;
    EXPECT_FALSE(err.has_value());
    EXPECT_TRUE(s.empty());
  });
  server.of("/chat").all_rooms([&](std::optional<AckError> err, std::set<std::string> rooms) {
    ++calls;
    EXPECT_FALSE(err.has_value());
    EXPECT_TRUE(rooms.empty());
  });
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(server.cluster_connected());
}

TEST(SingleNodeClusterApi, ABadRedisUrlFailsStart) {
  chorus::ServerOptions options;
  options.port = 0;
  options.redis.url = "http://127.0.0.1:6379";
  chorus::Server server(options);
  chorus::Status s = server.start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("redis"), std::string::npos) << s.error().message;
}

}  // namespace
