// The update encoding: round trips, compactness, state-vector sync, and the decoder's
// rejection of malformed updates without changing the document.
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chorus/collab/doc.h"
#include "chorus/collab/state_vector.h"
#include "core/collab/collab_test_util.h"

namespace chorus::collab {
namespace {

std::string byte(int b) {
  return std::string(1, static_cast<char>(b));
}

std::string varuint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A document with two clients, multibyte text, deletions and an insert inside a run.
Doc make_doc() {
  Doc a(7), b(1ull << 52);
  EXPECT_TRUE(a.insert(0, "h\xC3\xA9llo w\xF0\x9F\x98\x80rld").ok());
  EXPECT_TRUE(b.apply_update(a.take_update()).ok());
  EXPECT_TRUE(b.insert(5, ", dear").ok());
  EXPECT_TRUE(b.erase(0, 1).ok());
  EXPECT_TRUE(a.apply_update(b.take_update()).ok());
  EXPECT_TRUE(a.erase(3, 4).ok());
  EXPECT_TRUE(a.insert(a.length(), "\xE4\xB8\xAD!").ok());
  EXPECT_TRUE(b.apply_update(a.take_update()).ok());
  EXPECT_EQ(a.text(), b.text());
  return a;
}

struct Snapshot {
  std::string text;
  StateVector sv;
  std::string encoded;
  std::size_t pending;
};

Snapshot snapshot(const Doc& d) {
  return Snapshot{d.text(), d.state_vector(), d.encode_state_as_update(), d.pending_count()};
}

void expect_unchanged(const Doc& d, const Snapshot& s) {
  EXPECT_EQ(d.text(), s.text);
  EXPECT_EQ(d.state_vector(), s.sv);
  EXPECT_EQ(d.encode_state_as_update(), s.encoded);
  EXPECT_EQ(d.pending_count(), s.pending);
  EXPECT_EQ(d.check_invariants(), "");
}

TEST(CollabEncoding, WholeDocumentRoundTrips) {
  Doc a = make_doc();
  std::string encoded = a.encode_state_as_update();
  Doc c(99);
  ASSERT_TRUE(c.apply_update(encoded).ok());
  EXPECT_EQ(c.text(), a.text());
  EXPECT_EQ(c.state_vector(), a.state_vector());
  EXPECT_EQ(c.encode_state_as_update(), encoded);
  CHORUS_EXPECT_SOUND(c);
  // Edits after a load merge with the original replica.
  ASSERT_TRUE(c.insert(0, ">").ok());
  ASSERT_TRUE(a.apply_update(c.take_update()).ok());
  EXPECT_EQ(a.text(), c.text());
}

TEST(CollabEncoding, TypedTextCostsLittleMoreThanItsBytes) {
  Doc d(1ull << 52);  // an 8-byte varint client id: it must appear once
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>('a' + i % 26));
  for (std::size_t i = 0; i < text.size(); ++i) ASSERT_TRUE(d.insert(i, text.substr(i, 1)).ok());
  std::string encoded = d.encode_state_as_update();
  EXPECT_LT(encoded.size(), text.size() + 20);
  // Deleting every other character leaves many runs; each costs a few bytes, no client id.
  for (std::size_t i = 0; i < 500; ++i) ASSERT_TRUE(d.erase(i, 1).ok());
  encoded = d.encode_state_as_update();
  EXPECT_LT(encoded.size(), 500 + 1000 * 3 + 20);
  Doc e(2);
  ASSERT_TRUE(e.apply_update(encoded).ok());
  EXPECT_EQ(e.text(), d.text());
}

// A document of many runs: two clients typing and deleting at random places, synced now and
// then, with multibyte text. Its whole encoding is large enough for version 2.
Doc make_big_doc() {
  Doc a(11), b(1ull << 40);
  std::mt19937 rng(9);
  const char* pieces[] = {"the ", "caf\xC3\xA9 ", "\xF0\x9F\x98\x80", "x", "collaborative ", "\n"};
  for (int round = 0; round < 40; ++round) {
    for (Doc* d : {&a, &b}) {
      for (int i = 0; i < 10; ++i) {
        const std::size_t len = d->length();
        if (len > 20 && rng() % 3 == 0) {
          std::size_t at = rng() % (len - 5);
          while (!d->erase(at, 1 + rng() % 4).ok()) at = (at + 1) % (len - 5);  // not inside a surrogate pair
        } else {
          std::size_t at = len == 0 ? 0 : rng() % len;
          while (!d->insert(at, pieces[rng() % 6]).ok()) at = (at + 1) % (len + 1);
        }
      }
    }
    const std::string from_a = a.take_update(), from_b = b.take_update();
    EXPECT_TRUE(a.apply_update(from_b).ok());
    EXPECT_TRUE(b.apply_update(from_a).ok());
  }
  EXPECT_EQ(a.text(), b.text());
  return a;
}

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(CHORUS_COLLAB_FIXTURES) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(CollabEncoding, LargeUpdatesUseTheCompressedColumnFormat) {
  Doc a = make_big_doc();
  const std::string encoded = a.encode_state_as_update();
  ASSERT_EQ(encoded[0], 2);
  Doc c(99);
  ASSERT_TRUE(c.apply_update(encoded).ok());
  EXPECT_EQ(c.text(), a.text());
  EXPECT_EQ(c.state_vector(), a.state_vector());
  EXPECT_EQ(c.encode_state_as_update(), encoded);
  CHORUS_EXPECT_SOUND(c);
  // A keystroke's update stays in version 1, smaller for it; both kinds mix freely.
  ASSERT_TRUE(a.insert(3, "k").ok());
  const std::string keystroke = a.take_update();
  EXPECT_EQ(keystroke[0], 1);
  EXPECT_LT(keystroke.size(), 32u);
  ASSERT_TRUE(c.apply_update(keystroke).ok());
  EXPECT_EQ(c.text(), a.text());
}

TEST(CollabEncoding, Version1DocumentsStillLoad) {
  // Written by the version 1 encoder (two clients, 4,000 edits of a real trace, emoji and
  // accents), as SQLite files and IndexedDB copies made before version 2 hold them.
  const std::string v1 = read_fixture("v1-document.bin");
  const std::string text = read_fixture("v1-document.txt");
  ASSERT_EQ(v1[0], 1);
  Doc d(5);
  ASSERT_TRUE(d.apply_update(v1).ok());
  EXPECT_EQ(d.text(), text);
  CHORUS_EXPECT_SOUND(d);
  const std::string v2 = d.encode_state_as_update();
  EXPECT_EQ(v2[0], 2);
  EXPECT_LT(v2.size() * 4, v1.size() * 3);  // compressed columns: a quarter smaller at least
  Doc e(6);
  ASSERT_TRUE(e.apply_update(v2).ok());
  EXPECT_EQ(e.text(), text);
  EXPECT_EQ(e.state_vector(), d.state_vector());
  // Version 1 updates applied on top of a version 2 load add nothing twice.
  ASSERT_TRUE(e.apply_update(v1).ok());
  EXPECT_EQ(e.text(), text);
}

TEST(CollabEncoding, ColumnFormatTruncationAndCorruptionApplyWhollyOrNotAtAll) {
  const std::string full = make_big_doc().encode_state_as_update();
  ASSERT_EQ(full[0], 2);
  Doc d(55);
  ASSERT_TRUE(d.insert(0, "local text").ok());
  Snapshot before = snapshot(d);
  for (std::size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    ASSERT_FALSE(d.apply_update(full.substr(0, n)).ok());
    expect_unchanged(d, before);
  }
  std::mt19937_64 rng(4);
  for (int round = 0; round < 1000; ++round) {
    std::string bad = full;
    for (int i = 0; i < 1 + static_cast<int>(rng() % 3); ++i) {
      bad[rng() % bad.size()] ^= static_cast<char>(1u << (rng() % 8));
    }
    Doc e(56);
    ASSERT_TRUE(e.insert(0, "abc").ok());
    Snapshot was = snapshot(e);
    if (!e.apply_update(bad).ok()) {
      expect_unchanged(e, was);
    } else {
      ASSERT_EQ(e.check_invariants(), "");
    }
    ASSERT_TRUE(e.insert(0, "z").ok());
  }
}

TEST(CollabEncoding, ColumnFormatHeaderIsChecked) {
  Doc d(3);
  // A compressed body may not claim to expand past 64 times its size (plus 64 KiB).
  std::string bomb = byte(2) + byte(1) + varuint(64 * 100 + 64 * 1024 + 1) + std::string(100, '\0');
  Status s = d.apply_update(bomb);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("expands too far"), std::string::npos) << s.error().message;
  EXPECT_FALSE(d.apply_update(byte(2) + byte(2) + varuint(1) + byte(0)).ok());  // unknown flags
  EXPECT_FALSE(d.apply_update(byte(2) + byte(0) + varuint(5) + byte(0)).ok());  // raw body size wrong
  EXPECT_FALSE(d.apply_update(byte(3) + byte(0)).ok());                         // unknown version
  // The smallest valid raw body: no clients, no blocks, seven empty columns, no deletes.
  std::string empty = byte(0) + byte(0) + std::string(7, '\0') + byte(0);
  EXPECT_TRUE(d.apply_update(byte(2) + byte(0) + varuint(empty.size()) + empty).ok());
  EXPECT_EQ(d.text(), "");
}

// The encoder keeps the client table of small updates off the heap (up to 8 clients) and
// switches to a vector past that: updates and documents naming more clients than that, with
// origins and deletions of every client, round-trip in both regimes.
TEST(CollabEncoding, UpdatesNamingManyClientsRoundTrip) {
  for (std::size_t clients : {7u, 8u, 9u, 20u}) {
    SCOPED_TRACE(clients);
    Doc hub(1);
    for (std::size_t i = 0; i < clients; ++i) {
      Doc c(1000 + 977 * i);  // ids not in table order
      ASSERT_TRUE(c.apply_update(hub.encode_state_as_update()).ok());
      ASSERT_TRUE(c.insert(c.length() / 2, "ab" + std::to_string(i)).ok());
      ASSERT_TRUE(hub.apply_update(c.take_update()).ok());
    }
    // One local change whose items have origins from every client and deletes in all of
    // them: one update naming them all.
    Doc editor(5);
    ASSERT_TRUE(editor.apply_update(hub.encode_state_as_update()).ok());
    for (std::size_t at = 1; at < editor.length(); at += 3) ASSERT_TRUE(editor.insert(at, "|").ok());
    for (std::size_t at = 0; at + 1 < editor.length(); at += 2) ASSERT_TRUE(editor.erase(at, 1).ok());
    std::string update = editor.take_update();
    ASSERT_TRUE(hub.apply_update(update).ok());
    EXPECT_EQ(hub.text(), editor.text());
    Doc loaded(3);
    ASSERT_TRUE(loaded.apply_update(hub.encode_state_as_update()).ok());
    EXPECT_EQ(loaded.text(), editor.text());
    EXPECT_EQ(loaded.encode_state_as_update(), hub.encode_state_as_update());
    CHORUS_EXPECT_SOUND(loaded);
  }
}

// An editor takes an update after every keystroke: each carries exactly that edit, and
// replaying them on another replica in order gives the same text.
TEST(CollabEncoding, PerKeystrokeUpdatesCarryEachEdit) {
  Doc a(1ull << 40), b(2);
  std::mt19937 rng(7);
  const std::string typed = "the quick brown fox jumps over the lazy dog, ";
  for (int i = 0; i < 2000; ++i) {
    std::size_t len = a.length(Unit::kCodePoint);
    if (len > 0 && rng() % 3 == 0) {
      ASSERT_TRUE(a.erase(rng() % len, 1, Unit::kCodePoint).ok());
    } else {
      ASSERT_TRUE(a.insert(len == 0 ? 0 : rng() % (len + 1), typed.substr(i % 44, 1), Unit::kCodePoint).ok());
    }
    std::string update = a.take_update();
    EXPECT_LT(update.size(), 24u) << "one keystroke";
    EXPECT_TRUE(a.take_update().size() <= 4u) << "nothing left after the take";
    ASSERT_TRUE(b.apply_update(update).ok());
    ASSERT_EQ(b.text(), a.text());
  }
  CHORUS_EXPECT_SOUND(b);
}

TEST(CollabEncoding, StateVectorRoundTripsAndRejectsGarbage) {
  StateVector sv;
  sv.set(5, 10);
  sv.set(1, 3);
  sv.set(1ull << 60, 1);
  sv.set(7, 0);  // no entry
  EXPECT_EQ(sv.get(1), 3u);
  EXPECT_EQ(sv.get(7), 0u);
  ASSERT_EQ(sv.entries().size(), 3u);
  auto back = StateVector::decode(sv.encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), sv);
  sv.set(5, 0);
  EXPECT_EQ(sv.entries().size(), 2u);

  EXPECT_TRUE(StateVector::decode(varuint(0)).ok());
  EXPECT_FALSE(StateVector::decode("").ok());
  EXPECT_FALSE(StateVector::decode(varuint(1) + varuint(5)).ok());               // truncated
  EXPECT_FALSE(StateVector::decode(varuint(1) + varuint(5) + varuint(0)).ok());  // zero clock
  EXPECT_FALSE(
      StateVector::decode(varuint(2) + varuint(5) + varuint(1) + varuint(5) + varuint(1)).ok());  // repeated client
  EXPECT_FALSE(StateVector::decode(varuint(0) + "x").ok());                                       // trailing
  EXPECT_FALSE(StateVector::decode(std::string(11, '\xFF')).ok());                                // overlong
}

TEST(CollabEncoding, StateVectorDiffSendsOnlyWhatIsMissing) {
  Doc a(1), b(2);
  std::string big(5000, 'x');
  ASSERT_TRUE(a.insert(0, big).ok());
  ASSERT_TRUE(b.apply_update(a.take_update()).ok());
  // Both edit while disconnected.
  ASSERT_TRUE(a.insert(10, "from a").ok());
  ASSERT_TRUE(a.erase(100, 50).ok());
  ASSERT_TRUE(b.insert(4000, "from b").ok());
  ASSERT_TRUE(b.erase(0, 5).ok());
  a.take_update();
  b.take_update();
  // Sync step 1/2 both ways.
  StateVector sva = StateVector::decode(a.state_vector().encode()).value();
  StateVector svb = StateVector::decode(b.state_vector().encode()).value();
  std::string to_a = b.encode_state_as_update(&sva);
  std::string to_b = a.encode_state_as_update(&svb);
  EXPECT_LT(to_a.size(), 100u);
  EXPECT_LT(to_b.size(), 100u);
  ASSERT_TRUE(a.apply_update(to_a).ok());
  ASSERT_TRUE(b.apply_update(to_b).ok());
  EXPECT_EQ(a.text(), b.text());
  EXPECT_EQ(a.state_vector(), b.state_vector());
  // The same from the encoded state vector, as a server receives it.
  auto from_bytes = b.encode_state_as_update(a.encode_state_vector());
  ASSERT_TRUE(from_bytes.ok());
  Doc probe_bytes(4);
  ASSERT_TRUE(probe_bytes.apply_update(from_bytes.value()).ok());
  EXPECT_EQ(b.encode_state_as_update(std::string_view("\x01", 1)).error().code, ErrorCode::kInvalidPacket);
  // Nothing is missing any more: the diff carries no items.
  StateVector now = a.state_vector();
  Doc probe(3);
  ASSERT_TRUE(probe.apply_update(b.encode_state_as_update(&now)).ok());
  EXPECT_EQ(probe.text(), "");
}

TEST(CollabEncoding, RejectsMalformedUpdates) {
  const std::string v = byte(0x01);
  struct Case {
    const char* name;
    std::string bytes;
    ErrorCode code;
  };
  const std::string one_client = v + varuint(1) + varuint(7);
  const std::vector<Case> cases = {
      {"empty", "", ErrorCode::kInvalidPacket},
      {"unknown version", byte(0x02) + varuint(0) + varuint(0) + varuint(0), ErrorCode::kInvalidPacket},
      {"no sections", v, ErrorCode::kInvalidPacket},
      {"client table not ascending", v + varuint(2) + varuint(7) + varuint(7) + varuint(0) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"block client out of table",
       one_client + varuint(1) + varuint(1) + varuint(0) + varuint(1) + byte(0x00) + varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"empty block", one_client + varuint(1) + varuint(0) + varuint(0) + varuint(0) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"reserved info bits",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x20) + varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"left origin kind 3",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x03) + varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"implicit left origin at clock 0",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x01) + varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"left origin is the item itself",
       one_client + varuint(1) + varuint(0) + varuint(5) + varuint(1) + byte(0x02) + varuint(0) + varuint(5) +
           varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"right origin after the item",
       one_client + varuint(1) + varuint(0) + varuint(5) + varuint(1) + byte(0x08) + varuint(0) + varuint(9) +
           varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"same right as a missing previous item",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x04) + varuint(1) + "a" + varuint(0),
       ErrorCode::kInvalidPacket},
      {"empty content",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x00) + varuint(0) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"zero-length tombstone",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x10) + varuint(0) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"content past the end",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x00) + varuint(5) + "ab",
       ErrorCode::kInvalidPacket},
      {"bad UTF-8 content",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x00) + varuint(2) + "\xC3\x28" +
           varuint(0),
       ErrorCode::kInvalidUtf8},
      {"content splitting a character",
       one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x00) + varuint(1) + "\xC3" + varuint(0),
       ErrorCode::kInvalidUtf8},
      {"clock past the limit",
       one_client + varuint(1) + varuint(0) + varuint(0xFFFFFFFDull) + varuint(1) + byte(0x10) + varuint(2) +
           varuint(0),
       ErrorCode::kLimitExceeded},
      {"start clock past the limit",
       one_client + varuint(1) + varuint(0) + varuint(1ull << 40) + varuint(1) + byte(0x10) + varuint(1) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"empty delete range", one_client + varuint(0) + varuint(1) + varuint(0) + varuint(1) + varuint(0) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"delete past the limit",
       one_client + varuint(0) + varuint(1) + varuint(0) + varuint(1) + varuint(0xFFFFFFF0ull) + varuint(0x20),
       ErrorCode::kLimitExceeded},
      {"deletes without clients", v + varuint(0) + varuint(0) + varuint(1) + varuint(0) + varuint(0),
       ErrorCode::kInvalidPacket},
      {"trailing bytes", v + varuint(0) + varuint(0) + varuint(0) + "x", ErrorCode::kInvalidPacket},
      {"overlong varint", v + std::string(11, '\x80') + byte(0x00), ErrorCode::kInvalidPacket},
      {"huge count", v + varuint(1ull << 40) + varuint(1), ErrorCode::kInvalidPacket},
  };
  Doc d = make_doc();
  Snapshot before = snapshot(d);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = d.apply_update(c.bytes);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, c.code) << s.error().message;
    expect_unchanged(d, before);
  }
  // The minimal valid forms of the same shapes are accepted.
  EXPECT_TRUE(d.apply_update(v + varuint(0) + varuint(0) + varuint(0)).ok());
  EXPECT_TRUE(d.apply_update(one_client + varuint(1) + varuint(0) + varuint(0) + varuint(1) + byte(0x00) + varuint(1) +
                             "a" + varuint(0))
                  .ok());
}

TEST(CollabEncoding, EveryTruncationIsRejectedWholly) {
  Doc source = make_doc();
  std::string full = source.encode_state_as_update();
  Doc d(55);
  ASSERT_TRUE(d.insert(0, "local text").ok());
  Snapshot before = snapshot(d);
  for (std::size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    ASSERT_FALSE(d.apply_update(full.substr(0, n)).ok());
    expect_unchanged(d, before);
  }
  ASSERT_TRUE(d.apply_update(full).ok());
}

TEST(CollabEncoding, CorruptedUpdatesApplyWhollyOrNotAtAll) {
  Doc source = make_doc();
  std::string full = source.encode_state_as_update();
  std::mt19937_64 rng(3);
  for (int round = 0; round < 2000; ++round) {
    std::string bad = full;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i) {
      char& c = bad[rng() % bad.size()];
      c = static_cast<char>(static_cast<unsigned char>(c) ^ (1u << (rng() % 8)));
    }
    Doc d(55);
    ASSERT_TRUE(d.insert(0, "abc").ok());
    Snapshot before = snapshot(d);
    Status s = d.apply_update(bad);
    if (!s.ok()) {
      expect_unchanged(d, before);
    } else {
      ASSERT_EQ(d.check_invariants(), "");
    }
    // Whatever happened, the document stays usable.
    ASSERT_TRUE(d.insert(0, "z").ok());
    ASSERT_TRUE(d.erase(0, 1).ok());
  }
}

TEST(CollabEncoding, BuffersUpdatesUntilTheirDependenciesArrive) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "first").ok());
  std::string u1 = a.take_update();
  ASSERT_TRUE(a.insert(5, " second").ok());
  std::string u2 = a.take_update();
  ASSERT_TRUE(a.erase(0, 6).ok());
  std::string u3 = a.take_update();

  TextDelta delta;
  ASSERT_TRUE(b.apply_update(u3, &delta).ok());
  EXPECT_EQ(b.text(), "");
  EXPECT_TRUE(delta.empty());
  EXPECT_EQ(b.pending_count(), 1u);
  ASSERT_TRUE(b.apply_update(u2).ok());
  EXPECT_EQ(b.text(), "");
  EXPECT_EQ(b.pending_count(), 2u);
  ASSERT_TRUE(b.apply_update(u1, &delta).ok());
  EXPECT_EQ(b.text(), "second");
  EXPECT_EQ(b.pending_count(), 0u);
  // The delta of the last update covers everything it unblocked.
  ASSERT_EQ(delta.size(), 1u);
  EXPECT_EQ(delta[0].kind, DeltaOp::Kind::kInsert);
  EXPECT_EQ(delta[0].text, "second");
  CHORUS_EXPECT_SOUND(b);
}

TEST(CollabEncoding, PendingBufferIsBounded) {
  Doc a(1);
  ASSERT_TRUE(a.insert(0, "base").ok());
  std::string u1 = a.take_update();
  ASSERT_TRUE(a.insert(4, std::string(4000, 'x')).ok());
  std::string u2 = a.take_update();
  DocOptions options;
  options.max_pending_bytes = 1000;
  Doc b(2, options);
  ASSERT_TRUE(b.apply_update(u2).ok());  // waits for u1, but does not fit: dropped
  EXPECT_EQ(b.pending_count(), 0u);
  EXPECT_EQ(b.dropped_pending(), 1u);
  ASSERT_TRUE(b.apply_update(u1).ok());
  EXPECT_EQ(b.text(), "base");
  // A state-vector sync brings the dropped part again.
  StateVector sv = b.state_vector();
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update(&sv)).ok());
  EXPECT_EQ(b.text(), a.text());
}

TEST(CollabEncoding, PendingPartsEncodeAsOneUpdate) {
  // Waiting items of two clients with gaps, a waiting tombstone and a waiting deletion.
  Doc a(1);
  Doc c(3);
  std::vector<std::string> ua;
  for (const char* piece : {"ab", "cd", "ef", "gh"}) {
    ASSERT_TRUE(a.insert(a.length(), piece).ok());
    ua.push_back(a.take_update());
  }
  ASSERT_TRUE(a.erase(6, 1).ok());  // deletes 'g' (clock 6 of client 1)
  std::string del = a.take_update();
  ASSERT_TRUE(c.apply_update(ua[0]).ok());
  ASSERT_TRUE(c.insert(1, "xyz").ok());
  std::string uc1 = c.take_update();
  ASSERT_TRUE(c.insert(4, "!").ok());
  std::string uc2 = c.take_update();

  Doc b(2);
  EXPECT_EQ(b.encode_pending(), Doc(9).encode_pending());  // nothing waits: an empty update
  ASSERT_TRUE(b.apply_update(ua[0]).ok());
  for (const std::string* u : {&ua[2], &ua[3], &del, &uc2}) ASSERT_TRUE(b.apply_update(*u).ok());
  ASSERT_EQ(b.text(), "ab");
  std::size_t waiting = b.pending_count();
  ASSERT_GE(waiting, 4u);

  // A replica rebuilt from the integrated state plus the pending update waits for the same.
  Doc r(4);
  ASSERT_TRUE(r.apply_update(b.encode_state_as_update()).ok());
  ASSERT_TRUE(r.apply_update(b.encode_pending()).ok());
  EXPECT_EQ(r.pending_count(), waiting);
  EXPECT_EQ(r.pending_bytes(), b.pending_bytes());
  EXPECT_EQ(r.text(), "ab");
  for (Doc* d : {&b, &r}) {
    ASSERT_TRUE(d->apply_update(ua[1]).ok());
    ASSERT_TRUE(d->apply_update(uc1).ok());
    EXPECT_EQ(d->pending_count(), 0u);
    EXPECT_EQ(d->pending_bytes(), 0u);
    CHORUS_EXPECT_SOUND(*d);
  }
  EXPECT_EQ(r.text(), b.text());
  EXPECT_EQ(r.text(), "axyz!bcdefh");
}

TEST(CollabEncoding, PendingCostIsWhatApplyAddsUpFront) {
  Doc a(1);
  std::vector<std::string> u;
  for (const char* piece : {"one ", "two ", "three "}) {
    ASSERT_TRUE(a.insert(a.length(), piece).ok());
    u.push_back(a.take_update());
  }
  ASSERT_TRUE(a.erase(8, 6).ok());  // "three ": clocks b does not have yet
  std::string del = a.take_update();
  Doc b(2);
  // In order: nothing waits.
  EXPECT_EQ(b.pending_cost(u[0]).value(), 0u);
  ASSERT_TRUE(b.apply_update(u[0]).ok());
  // Out of order: exactly what apply_update adds, for items and for deletions.
  for (const std::string* x : {&u[2], &del}) {
    std::size_t cost = b.pending_cost(*x).value();
    std::size_t before = b.pending_bytes();
    EXPECT_GT(cost, 0u);
    ASSERT_TRUE(b.apply_update(*x).ok());
    EXPECT_EQ(b.pending_bytes() - before, cost);
  }
  // Already waiting: costs nothing again.
  EXPECT_EQ(b.pending_cost(u[2]).value(), 0u);
  // The gap filler integrates and wakes the rest: it adds nothing.
  EXPECT_EQ(b.pending_cost(u[1]).value(), 0u);
  // A whole document in one update depends only on itself.
  EXPECT_EQ(Doc(5).pending_cost(a.encode_state_as_update()).value(), 0u);
  // Malformed: the same error as apply_update, and nothing changes.
  EXPECT_FALSE(b.pending_cost(std::string("\x01\xff", 2)).ok());
  ASSERT_TRUE(b.apply_update(u[1]).ok());
  EXPECT_EQ(b.text(), "one two ");
  EXPECT_EQ(b.pending_bytes(), 0u);
}

TEST(CollabEncoding, OverlappingUpdatesIntegrateOnlyTheNewPart) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "abc").ok());
  std::string u1 = a.take_update();
  ASSERT_TRUE(a.insert(3,
                       "d\xF0\x9F\x98\x80"
                       "f")
                  .ok());
  std::string whole = a.encode_state_as_update();  // one run "abcd😀f"
  ASSERT_TRUE(b.apply_update(u1).ok());
  ASSERT_TRUE(b.insert(3, "!").ok());
  ASSERT_TRUE(b.apply_update(whole).ok());
  ASSERT_TRUE(a.apply_update(b.take_update()).ok());
  EXPECT_EQ(a.text(), b.text());
  CHORUS_EXPECT_SOUND(b);
}

}  // namespace
}  // namespace chorus::collab
