// Server runtime pieces with no protocol logic: clock, logging, frames, timers, ids.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

#include "chorus/json/json.h"

#include "internal.h"

namespace chorus {

namespace {
std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_log_mu;
ServerOptions::LogFormat g_log_format = ServerOptions::LogFormat::kText;  // under g_log_mu
std::function<void(LogLevel, const std::string&)> g_log_sink;             // under g_log_mu

}  // namespace

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_date(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::string js_date(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::strftime(buf, sizeof buf, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm);
  return buf;
}

Value string_map_to_object(const std::unordered_map<std::string, std::string>& m) {
  std::vector<const std::pair<const std::string, std::string>*> sorted;
  sorted.reserve(m.size());
  for (const auto& e : m) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  Value o = Value::object();
  for (auto* e : sorted) o.set(e->first, e->second);
  return o;
}

void set_log_output(ServerOptions::LogFormat format, std::function<void(LogLevel, const std::string&)> sink) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log_format = format;
  g_log_sink = std::move(sink);
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

void set_log_level(LogLevel level) {
  g_log_level = static_cast<int>(level);
}

void log(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) > g_log_level.load()) return;
  static const char* kNames[] = {"error", "warn", "info", "debug"};
  std::lock_guard<std::mutex> lock(g_log_mu);
  if (g_log_sink) {
    g_log_sink(level, message);
  } else if (g_log_format == ServerOptions::LogFormat::kJson) {
    std::string line =
        "{\"time\":\"" + iso_date(epoch_ms()) + "\",\"level\":\"" + kNames[static_cast<int>(level)] + "\",\"msg\":";
    json::quote_string(message, line);
    line += "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  } else {
    std::fprintf(stderr, "chorus [%s] %s\n", kNames[static_cast<int>(level)], message.c_str());
  }
}

FramePtr message_frame(const socketio::EncodedPacket& packet, bool is_volatile) {
  auto f = std::make_shared<OutFrame>();
  f->parts.reserve(1 + packet.attachments.size());
  std::string text;
  text.reserve(packet.text.size() + 1);
  text.push_back('4');  // Engine.IO MESSAGE
  text += packet.text;
  f->bytes = text.size();
  f->parts.push_back(OutFrame::Part{false, std::move(text)});
  for (const Binary& b : packet.attachments) {
    f->bytes += b.size();
    f->parts.push_back(OutFrame::Part{true, std::string(b.begin(), b.end())});
  }
  f->is_volatile = is_volatile;
  return f;
}

TimerService::TimerService() : thread_([this] { run(); }) {}

TimerService::~TimerService() {
  stop();
}

void TimerService::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

TimerService::Id TimerService::schedule(std::uint64_t deadline_ms, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  bool earliest = queue_.empty() || deadline_ms < queue_.next_deadline();
  Id id = queue_.add(deadline_ms, std::move(fn));
  if (earliest) cv_.notify_one();
  return id;
}

void TimerService::cancel(Id id) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.cancel(id);
}

void TimerService::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    std::uint64_t deadline = queue_.next_deadline();
    std::uint64_t now = now_ms();
    if (now < deadline) {
      cv_.wait_for(lock, std::chrono::milliseconds(deadline - now));
      continue;
    }
    auto fn = queue_.pop_due(now);
    if (!fn) continue;
    lock.unlock();
    (*fn)();  // never under the timer lock: callbacks schedule and cancel
    lock.lock();
  }
}

std::string ServerImpl::new_id() {
  // 120 random bits, base64url: unguessable session and socket ids.
  static thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    std::mt19937_64 g(seq);
    return g;
  }());
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string id(20, 'A');
  std::uint64_t a = rng(), b = rng();
  for (int i = 0; i < 10; ++i) id[i] = kAlphabet[(a >> (6 * i)) & 63];
  for (int i = 0; i < 10; ++i) id[10 + i] = kAlphabet[(b >> (6 * i)) & 63];
  id_counter.fetch_add(1, std::memory_order_relaxed);
  return id;
}

namespace {

// A socket's own room (named by its id, as socket.io joins every socket to it) is not kept in
// rooms_: one set per socket would cost more than the rest of its membership.
class InMemoryAdapter final : public Adapter {
 public:
  void add_all(const std::string& sid, const std::set<std::string>& rooms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& mine = sids_[sid];
    for (const std::string& r : rooms) {
      mine.insert(r);
      if (r != sid) rooms_[r].insert(sid);
    }
  }
  void del(const std::string& sid, const std::string& room) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto s = sids_.find(sid);
    if (s != sids_.end()) s->second.erase(room);
    auto r = rooms_.find(room);
    if (r != rooms_.end()) {
      r->second.erase(sid);
      if (r->second.empty()) rooms_.erase(r);
    }
  }
  void del_all(const std::string& sid) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto s = sids_.find(sid);
    if (s == sids_.end()) return;
    for (const std::string& room : s->second) {
      auto r = rooms_.find(room);
      if (r != rooms_.end()) {
        r->second.erase(sid);
        if (r->second.empty()) rooms_.erase(r);
      }
    }
    sids_.erase(s);
  }
  std::set<std::string> socket_rooms(const std::string& sid) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto s = sids_.find(sid);
    return s == sids_.end() ? std::set<std::string>{} : s->second;
  }
  std::vector<std::string> select(const BroadcastOptions& opts) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::unordered_set<std::string> excluded;
    for (const std::string& e : opts.except) {
      auto r = rooms_.find(e);
      if (r != rooms_.end()) excluded.insert(r->second.begin(), r->second.end());
      if (in_own_room(e)) excluded.insert(e);
    }
    std::vector<std::string> out;
    if (opts.rooms.empty()) {
      out.reserve(sids_.size());
      for (const auto& [sid, _] : sids_) {
        if (!excluded.count(sid)) out.push_back(sid);
      }
      return out;
    }
    std::unordered_set<std::string> seen;
    for (const std::string& room : opts.rooms) {
      if (in_own_room(room) && !excluded.count(room) && seen.insert(room).second) out.push_back(room);
      auto r = rooms_.find(room);
      if (r == rooms_.end()) continue;
      for (const std::string& sid : r->second) {
        if (!excluded.count(sid) && seen.insert(sid).second) out.push_back(sid);
      }
    }
    return out;
  }
  std::vector<std::string> all_rooms() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    out.reserve(rooms_.size() + sids_.size());
    for (const auto& [room, _] : rooms_) out.push_back(room);
    for (const auto& [sid, _] : sids_) {
      if (in_own_room(sid)) out.push_back(sid);
    }
    return out;
  }
  bool has_room(const std::string& room) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return rooms_.count(room) != 0 || in_own_room(room);
  }
  std::size_t room_count() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return rooms_.size();
  }

 private:
  // `room` is the id of a socket still in its own room.
  bool in_own_room(const std::string& room) const {
    auto s = sids_.find(room);
    return s != sids_.end() && s->second.count(room) != 0;
  }

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unordered_set<std::string>> rooms_;
  std::unordered_map<std::string, std::set<std::string>> sids_;
};

}  // namespace

std::unique_ptr<Adapter> make_in_memory_adapter() {
  return std::make_unique<InMemoryAdapter>();
}

}  // namespace chorus
