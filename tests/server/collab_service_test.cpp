#include "chorus/collab_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "chorus/collab/doc.h"

namespace chorus {
namespace {

std::string temp_db() {
  char path[] = "/tmp/chorus-collab-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::remove(path);
  return path;
}

std::unique_ptr<CollabService> open_service(Server& server, const std::string& db, std::size_t compact_every = 1000) {
  CollabOptions o;
  o.database_path = db;
  o.compact_every = compact_every;
  auto s = CollabService::attach(server, o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(CollabService, UpdatesSurviveARestart) {
  std::string db = temp_db();
  collab::Doc alice(101);
  {
    Server server;
    auto svc = open_service(server, db);
    ASSERT_TRUE(alice.insert(0, "hello").ok());
    ASSERT_TRUE(svc->apply("notes", alice.take_update()).ok());
    ASSERT_TRUE(alice.insert(5, " world").ok());
    ASSERT_TRUE(svc->apply("notes", alice.take_update()).ok());
    EXPECT_EQ(svc->text("notes").value(), "hello world");
  }
  Server server;
  auto svc = open_service(server, db);
  EXPECT_EQ(svc->text("notes").value(), "hello world");
  EXPECT_EQ(svc->text("other").value(), "");
  std::remove(db.c_str());
}

TEST(CollabService, CompactionKeepsEveryEdit) {
  std::string db = temp_db();
  collab::Doc bob(202);
  std::string expected;
  {
    Server server;
    auto svc = open_service(server, db, /*compact_every=*/3);
    for (int i = 0; i < 10; ++i) {
      std::string piece = std::to_string(i);
      ASSERT_TRUE(bob.insert(expected.size(), piece).ok());
      expected += piece;
      ASSERT_TRUE(svc->apply("log", bob.take_update()).ok());
    }
    ASSERT_TRUE(bob.erase(0, 2).ok());
    expected.erase(0, 2);
    ASSERT_TRUE(svc->apply("log", bob.take_update()).ok());
  }
  Server server;
  auto svc = open_service(server, db);
  EXPECT_EQ(svc->text("log").value(), expected);
  std::remove(db.c_str());
}

TEST(CollabService, RejectedUpdateChangesNothing) {
  Server server;
  auto svc = open_service(server, "");  // memory only
  collab::Doc carol(303);
  ASSERT_TRUE(carol.insert(0, "abc").ok());
  ASSERT_TRUE(svc->apply("d", carol.take_update()).ok());
  EXPECT_FALSE(svc->apply("d", std::string("\x01\xff\xff\xff", 4)).ok());
  EXPECT_FALSE(svc->apply("d", "").ok());
  EXPECT_EQ(svc->text("d").value(), "abc");
}

TEST(CollabService, BadDatabasePathIsAnError) {
  Server server;
  CollabOptions o;
  o.database_path = "/nonexistent-dir/x/docs.db";
  auto s = CollabService::attach(server, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("database"), std::string::npos);
}

}  // namespace
}  // namespace chorus
