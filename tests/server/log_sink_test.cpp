// ServerOptions::log_sink: the embedding application gets the server's log lines (at the
// levels log_level lets through) instead of stderr.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "chorus/server.h"

namespace {

TEST(LogSink, GetsTheServersLinesUpToTheLevel) {
  std::mutex mu;
  std::vector<std::pair<chorus::LogLevel, std::string>> lines;
  chorus::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.log_level = chorus::LogLevel::kDebug;
  o.max_connections = 1'000'000'000;  // above any open-file limit: a warning at start
  o.log_sink = [&](chorus::LogLevel level, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(level, message);
  };
  {
    chorus::Server server(o);
    ASSERT_TRUE(server.start().ok());
    server.stop();
  }
  std::lock_guard<std::mutex> lock(mu);
  bool limit_line = false;
  for (const auto& [level, message] : lines) {
    if (message.find("open-file limit") != std::string::npos) limit_line = level == chorus::LogLevel::kWarn;
  }
  EXPECT_TRUE(limit_line) << lines.size() << " lines";

  // Past the level: nothing.
  std::size_t before = lines.size();
  o.log_level = chorus::LogLevel::kError;
  {
    chorus::Server server(o);
    ASSERT_TRUE(server.start().ok());
    server.stop();
  }
  EXPECT_EQ(lines.size(), before);
}

}  // namespace
