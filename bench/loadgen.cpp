// chorus-loadgen: load generator for Socket.IO v4 servers (Chorus and the npm reference),
// over raw WebSocket connections driven by one epoll loop (see ws_client.h).
//
//   chorus-loadgen idle   --port P --conns N --server-pid PID [--settle S] [--engine-only]
//   chorus-loadgen echo   --port P --rate R --seconds S --conns C [--warmup W]
//   chorus-loadgen echo   --port P --sweep [--rate START] [--factor F] [--max-rate M]
//                         [--threshold-ms T] [--seconds S] [--conns C] [--refine K]
//   chorus-loadgen fanout --port P --clients N --rate R --seconds S [--warmup W]
//   chorus-loadgen cluster --port A --port2 B --clients N --rate R --seconds S [--warmup W]
//                         [--alternate] [--server-pid PID --server-pid2 PID] [--redis-pid PID]
//   chorus-loadgen churn  --port P --seconds S [--concurrency K] [--warmup W]
//   chorus-loadgen startup --port P [--cpu C] [--settle S] [--path URL] -- COMMAND [ARGS...]
//
// Common: --host ADDR (127.0.0.1), --server-pid PID (adds server CPU / RSS / thread
// figures), --tls (wss), --source-addrs N (bind connections to 127.0.0.2..127.0.0.N+1 in
// turn, for more connections than one address has ephemeral ports).
// Prints one JSON object on stdout per run; progress goes to stderr.
//
// Latencies are measured from the time a message was *scheduled* (open-loop sending at a
// fixed rate), so a stalled server or a full socket shows up as latency instead of being
// hidden by a slower sender.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "command_line.h"
#include "ws_client.h"

namespace chorus::bench {
namespace {

constexpr std::int64_t kNsPerSec = 1'000'000'000;

// ---- command line -------------------------------------------------------------------------

struct Flags {
  std::map<std::string, std::string> values;
  bool has(const std::string& k) const { return values.count(k) != 0; }
  std::string str(const std::string& k, const std::string& d) const {
    auto it = values.find(k);
    return it == values.end() ? d : it->second;
  }
  double num(const std::string& k, double d) const {
    auto it = values.find(k);
    return it == values.end() ? d : std::strtod(it->second.c_str(), nullptr);
  }
};

// Every flag of every command: numbers, except --host (text) and the two switches.
Flags parse_flags(int argc, char** argv, int first, const char* usage) {
  chorus::tools::CommandLine cl("chorus-loadgen", usage);
  std::map<std::string, double> numbers;
  for (const char* name : {"port", "server-pid", "conns", "settle", "timeout", "rate", "seconds", "warmup", "factor",
                           "max-rate", "threshold-ms", "refine", "clients", "concurrency", "source-addrs", "cpu",
                           "port2", "server-pid2", "redis-pid"}) {
    numbers[name] = -1;  // not given
  }
  for (auto& [name, value] : numbers) cl.real("--" + name, &value, 0, 1e12);
  std::string host, path;
  bool sweep = false, engine_only = false, tls = false, alternate = false;
  cl.text("--host", &host).text("--path", &path).flag("--sweep", &sweep).flag("--engine-only", &engine_only);
  cl.flag("--tls", &tls).flag("--alternate", &alternate);
  cl.parse(argc, argv, first);
  Flags f;  // only what was given: the defaults are the call sites'
  for (const auto& [name, value] : numbers) {
    if (value >= 0) f.values[name] = std::to_string(value);
  }
  if (!host.empty()) f.values["host"] = host;
  if (!path.empty()) f.values["path"] = path;
  if (sweep) f.values["sweep"] = "1";
  if (tls) f.values["tls"] = "1";
  if (alternate) f.values["alternate"] = "1";
  if (engine_only) f.values["engine-only"] = "1";
  return f;
}

// ---- process facts ------------------------------------------------------------------------

// A numeric field of /proc/PID/status ("VmRSS:" in KiB, "Threads:"); -1 when unknown.
long read_status_field(long pid, const std::string& field) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + field.size(), nullptr, 10);
  }
  return -1;
}
long read_rss_kb(long pid) {
  return read_status_field(pid, "VmRSS:");
}
long read_threads(long pid) {
  return read_status_field(pid, "Threads:");
}

// utime + stime of every thread of `pid`, seconds.
double read_cpu_s(long pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t rp = all.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream rest(all.substr(rp + 2));
  std::string field;
  double ticks = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlimit want{std::max<rlim_t>(rl.rlim_max, 65536), std::max<rlim_t>(rl.rlim_max, 65536)};
  if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
    want.rlim_cur = want.rlim_max = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &want);
  }
}

// CPU use of this process and the server over a window.
class CpuWindow {
 public:
  explicit CpuWindow(long pid) : pid_(pid) { reset(); }
  void reset() {
    t0_ = now_ns();
    self0_ = self_cpu_s();
    server0_ = read_cpu_s(pid_);
  }
  double self_share() const { return (self_cpu_s() - self0_) / elapsed(); }
  double server_share() const { return pid_ > 0 ? (read_cpu_s(pid_) - server0_) / elapsed() : -1; }

 private:
  double elapsed() const { return std::max(1e-9, static_cast<double>(now_ns() - t0_) / kNsPerSec); }
  long pid_;
  std::int64_t t0_ = 0;
  double self0_ = 0;
  double server0_ = 0;
};

// ---- results ------------------------------------------------------------------------------

class Json {
 public:
  Json& num(const std::string& k, double v) {
    sep();
    char buf[64];
    if (!std::isfinite(v)) {
      std::snprintf(buf, sizeof buf, "null");
    } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
      std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.6g", v);
    }
    out_ += "\"" + k + "\":" + buf;
    return *this;
  }
  Json& str(const std::string& k, const std::string& v) {
    sep();
    out_ += "\"" + k + "\":\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out_ += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out_ += c;
    }
    out_ += "\"";
    return *this;
  }
  Json& raw(const std::string& k, const std::string& v) {
    sep();
    out_ += "\"" + k + "\":" + v;
    return *this;
  }
  std::string done() const { return out_ + "}"; }

 private:
  void sep() { out_ += out_.size() > 1 ? "," : ""; }
  std::string out_ = "{";
};

struct Latencies {
  std::vector<std::int64_t> ns;
  void add(std::int64_t v) { ns.push_back(v); }
  // Nearest-rank percentile, microseconds; `missing` samples count as +infinity.
  double percentile_us(double p, std::size_t missing = 0) {
    std::size_t n = ns.size() + missing;
    if (n == 0) return NAN;
    std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(n)));
    if (rank == 0) rank = 1;
    if (rank > ns.size()) return INFINITY;
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(rank - 1), ns.end());
    return static_cast<double>(ns[rank - 1]) / 1e3;
  }
  double max_us() const {
    return ns.empty() ? NAN : static_cast<double>(*std::max_element(ns.begin(), ns.end())) / 1e3;
  }
};

void add_driver_stats(Json& j, const Driver& d) {
  const DriverStats& s = d.stats();
  j.num("connect_failures", static_cast<double>(s.connect_failures))
      .num("protocol_errors", static_cast<double>(s.protocol_errors))
      .num("unexpected_closes", static_cast<double>(s.unexpected_closes));
  if (!s.last_error.empty()) j.str("last_error", s.last_error);
}

// ---- connection pool shared by the scenarios ---------------------------------------------

// --tls and --source-addrs.
void configure(Driver& d, const Flags& f) {
  if (f.has("tls") && !d.set_tls(true)) {
    std::fprintf(stderr, "chorus-loadgen: %s\n", d.stats().last_error.c_str());
    std::exit(1);
  }
  const int sources = static_cast<int>(f.num("source-addrs", 0));
  if (sources > 253) {
    std::fprintf(stderr, "chorus-loadgen: --source-addrs takes at most 253 (127.0.0.2..127.0.0.254)\n");
    std::exit(2);
  }
  std::vector<std::string> addrs;
  for (int i = 0; i < sources; ++i) addrs.push_back("127.0.0." + std::to_string(2 + i));
  d.set_source_addresses(std::move(addrs));
}

class Pool : public Handler {
 public:
  Pool(const Flags& f) : driver_(f.str("host", "127.0.0.1"), static_cast<int>(f.num("port", 0)), this) {
    configure(driver_, f);
  }

  // Opens `n` more connections (at most `inflight` handshaking at once, so the server's
  // listen backlog never overflows into SYN retries) and waits until each is ready or failed.
  bool open(std::size_t n, double timeout_s, std::size_t inflight = 128) {
    target_ += n;
    inflight_ = inflight;
    top_up();
    driver_.run_until(now_ns() + static_cast<std::int64_t>(timeout_s * kNsPerSec),
                      [&] { return ready_.size() + failed_ >= target_; });
    return ready_.size() >= target_;
  }

  void on_ready(Conn& c) override {
    c.user = static_cast<std::int64_t>(ready_.size());
    ready_.push_back(&c);
    top_up();
  }
  void on_closed(Conn& c, bool, const std::string&) override {
    if (c.ready_ns == 0) {
      ++failed_;
    } else if (c.user >= 0 && static_cast<std::size_t>(c.user) < ready_.size() && ready_[c.user] == &c) {
      std::size_t i = static_cast<std::size_t>(c.user);
      ready_[i] = ready_.back();
      ready_[i]->user = static_cast<std::int64_t>(i);
      ready_.pop_back();
      ++lost_;
    }
    top_up();
  }

  Driver& driver() { return driver_; }
  std::vector<Conn*>& ready() { return ready_; }
  std::size_t failed() const { return failed_; }
  std::size_t lost() const { return lost_; }

 protected:
  void top_up() {
    while (started_ < target_ && driver_.open_count() - driver_.ready_count() < inflight_) {
      const int port = ports_.empty() ? 0 : ports_[started_ % ports_.size()];
      ++started_;
      if (driver_.open(port) == nullptr) ++failed_;
    }
  }

  Driver driver_;
  std::vector<Conn*> ready_;
  std::size_t target_ = 0;
  std::size_t started_ = 0;
  std::size_t failed_ = 0;
  std::size_t lost_ = 0;
  std::size_t inflight_ = 128;
  std::vector<int> ports_;  // connections go to these in turn (empty: the driver's port)
};

// ---- idle ---------------------------------------------------------------------------------

int run_idle(const Flags& f) {
  const std::size_t n = static_cast<std::size_t>(f.num("conns", 1000));
  const long pid = static_cast<long>(f.num("server-pid", 0));
  const double settle = f.num("settle", 2);
  Pool pool(f);
  pool.driver().set_engine_only(f.has("engine-only"));
  const long rss_before = read_rss_kb(pid);
  const std::int64_t t0 = now_ns();
  pool.open(n, f.num("timeout", 60));
  const double connect_s = static_cast<double>(now_ns() - t0) / kNsPerSec;
  // Let the server finish whatever it allocates lazily, while the loop keeps answering pings.
  pool.driver().run_until(now_ns() + static_cast<std::int64_t>(settle * kNsPerSec));
  const long rss_after = read_rss_kb(pid);
  const long threads = read_threads(pid);
  const std::size_t held = pool.ready().size();
  Json j;
  j.str("scenario", "idle")
      .str("transport", f.has("tls") ? "wss" : "ws")
      .num("conns", static_cast<double>(n))
      .num("ready", static_cast<double>(held))
      .num("connect_s", connect_s)
      .num("connects_per_s", static_cast<double>(held) / std::max(connect_s, 1e-9))
      .num("rss_before_kb", static_cast<double>(rss_before))
      .num("rss_after_kb", static_cast<double>(rss_after))
      .num("rss_per_conn_kb",
           pid > 0 && held > 0 ? static_cast<double>(rss_after - rss_before) / static_cast<double>(held) : NAN)
      .num("server_threads", pid > 0 ? static_cast<double>(threads) : NAN);
  add_driver_stats(j, pool.driver());
  std::printf("%s\n", j.done().c_str());
  return held == n ? 0 : 1;
}

// ---- echo ---------------------------------------------------------------------------------

class Echo : public Pool {
 public:
  using Pool::Pool;

  struct Step {
    double rate = 0;
    double p50_us = NAN, p90_us = NAN, p99_us = NAN, max_us = NAN;
    std::uint64_t sent = 0, acked = 0, missing = 0;
    double achieved_per_s = 0;
    double send_lag_max_us = 0;  // how late the sender got to a scheduled message, at worst
    double loadgen_cpu = 0, server_cpu = 0;
    std::string to_json() const {
      Json j;
      j.num("rate", rate)
          .num("sent", static_cast<double>(sent))
          .num("acked", static_cast<double>(acked))
          .num("missing", static_cast<double>(missing))
          .num("delivered_fraction", sent ? static_cast<double>(acked) / static_cast<double>(sent) : NAN)
          .num("achieved_per_s", achieved_per_s)
          .num("p50_us", p50_us)
          .num("p90_us", p90_us)
          .num("p99_us", p99_us)
          .num("max_us", max_us)
          .num("send_lag_max_us", send_lag_max_us)
          .num("loadgen_cpu", loadgen_cpu)
          .num("server_cpu", server_cpu);
      return j.done();
    }
  };

  void on_ack(Conn&, std::uint64_t, std::int64_t stamp) override {
    --outstanding_;
    if (stamp >= win_start_ && stamp < win_end_) {
      lat_.add(now_ns() - stamp);
      ++acked_;
    }
  }

  // Sends at `rate` for warmup + seconds; measures messages scheduled in the last `seconds`.
  Step step(double rate, double seconds, double warmup, long pid) {
    Step s;
    s.rate = rate;
    lat_ = Latencies{};
    acked_ = 0;
    const std::int64_t start = now_ns() + 1'000'000;
    win_start_ = start + static_cast<std::int64_t>(warmup * kNsPerSec);
    win_end_ = win_start_ + static_cast<std::int64_t>(seconds * kNsPerSec);
    const double interval = kNsPerSec / rate;
    std::uint64_t seq = 0;
    std::uint64_t sent_in_window = 0;
    std::size_t rr = 0;
    CpuWindow cpu(pid);
    bool cpu_started = false;
    std::int64_t lag_max = 0;
    driver_.set_ticker(
        [&](std::int64_t now) -> std::int64_t {
          std::int64_t due = start + static_cast<std::int64_t>(static_cast<double>(seq) * interval);
          if (due >= win_start_ && due < win_end_) lag_max = std::max(lag_max, now - due);
          while (due <= now && due < win_end_) {
            if (!cpu_started && due >= win_start_) {
              cpu.reset();
              cpu_started = true;
            }
            if (ready_.empty()) return INT64_MAX;
            Conn& c = *ready_[rr++ % ready_.size()];
            // ["echo",{"n":seq,"msg":"chorus-loadgen echo"}], written directly (see emit_json).
            char json[96];
            std::snprintf(json, sizeof json, "[\"echo\",{\"n\":%" PRIu64 ",\"msg\":\"chorus-loadgen echo\"}]", seq);
            if (driver_.emit_json(c, json, true, due)) {
              ++outstanding_;
              if (due >= win_start_) ++sent_in_window;
            }
            ++seq;
            due = start + static_cast<std::int64_t>(static_cast<double>(seq) * interval);
          }
          return due < win_end_ ? due : INT64_MAX;
        },
        start);
    driver_.run_until(win_end_);
    s.loadgen_cpu = cpu.self_share();
    s.server_cpu = cpu.server_share();
    driver_.clear_ticker();
    // Drain: acks of the window still in flight get up to 2 s.
    driver_.run_until(now_ns() + 2 * kNsPerSec, [&] { return outstanding_ <= 0; });
    outstanding_ = 0;
    s.sent = sent_in_window;
    s.send_lag_max_us = static_cast<double>(lag_max) / 1e3;
    s.acked = acked_;
    s.missing = sent_in_window > acked_ ? sent_in_window - acked_ : 0;
    s.achieved_per_s = static_cast<double>(acked_) / seconds;
    s.p50_us = lat_.percentile_us(0.50, s.missing);
    s.p90_us = lat_.percentile_us(0.90, s.missing);
    s.p99_us = lat_.percentile_us(0.99, s.missing);
    s.max_us = s.missing ? INFINITY : lat_.max_us();
    return s;
  }

 private:
  Latencies lat_;
  std::uint64_t acked_ = 0;
  std::int64_t outstanding_ = 0;
  std::int64_t win_start_ = 0;
  std::int64_t win_end_ = 0;
};

int run_echo(const Flags& f) {
  const std::size_t conns = static_cast<std::size_t>(f.num("conns", 100));
  const long pid = static_cast<long>(f.num("server-pid", 0));
  const double seconds = f.num("seconds", 5);
  const double warmup = f.num("warmup", 1);
  Echo echo(f);
  if (!echo.open(conns, f.num("timeout", 60))) {
    std::fprintf(stderr, "chorus-loadgen: only %zu of %zu connections ready (%s)\n", echo.ready().size(), conns,
                 echo.driver().stats().last_error.c_str());
    return 1;
  }
  if (!f.has("sweep")) {
    Echo::Step s = echo.step(f.num("rate", 1000), seconds, warmup, pid);
    Json j;
    j.str("scenario", "echo").num("conns", static_cast<double>(conns)).num("seconds", seconds);
    std::string body = s.to_json();
    std::string out = j.done();
    out.pop_back();
    out += "," + body.substr(1);
    // Driver stats after the step.
    Json tail;
    add_driver_stats(tail, echo.driver());
    out.pop_back();
    out += "," + tail.done().substr(1);
    std::printf("%s\n", out.c_str());
    return s.missing == 0 ? 0 : 1;
  }
  // Sweep: raise the rate geometrically until p99 passes the threshold (or acks fall behind
  // or go missing) twice in a row at one rate, then bisect between the last good and the
  // first bad rate.
  const double threshold_us = f.num("threshold-ms", 10) * 1e3;
  const double factor = f.num("factor", 1.5);
  const double max_rate = f.num("max-rate", 200000);
  const int refine = static_cast<int>(f.num("refine", 2));
  const double step_warmup = f.num("warmup", 0.5);
  std::vector<Echo::Step> steps;
  auto good = [&](const Echo::Step& s) {
    return s.missing == 0 && s.p99_us <= threshold_us && s.achieved_per_s >= 0.95 * s.rate;
  };
  double last_good = 0;
  double first_bad = 0;
  for (double rate = f.num("rate", 1000); rate <= max_rate; rate *= factor) {
    rate = std::round(rate);
    steps.push_back(echo.step(rate, seconds, step_warmup, pid));
    std::fprintf(stderr, "sweep: rate %.0f p99 %.0f us\n", rate, steps.back().p99_us);
    if (!good(steps.back())) {
      // One hiccup of a shared machine should not end the sweep: confirm the failure once.
      steps.push_back(echo.step(rate, seconds, step_warmup, pid));
      std::fprintf(stderr, "sweep: rate %.0f (again) p99 %.0f us\n", rate, steps.back().p99_us);
    }
    if (!good(steps.back())) {
      first_bad = rate;
      break;
    }
    last_good = rate;
    if (echo.ready().size() < conns) break;
  }
  for (int i = 0; i < refine && first_bad > 0 && last_good > 0; ++i) {
    double mid = std::round((last_good + first_bad) / 2);
    steps.push_back(echo.step(mid, seconds, step_warmup, pid));
    std::fprintf(stderr, "sweep: rate %.0f p99 %.0f us\n", mid, steps.back().p99_us);
    if (good(steps.back())) {
      last_good = mid;
    } else {
      first_bad = mid;
    }
  }
  std::string list = "[";
  for (std::size_t i = 0; i < steps.size(); ++i) list += (i ? "," : "") + steps[i].to_json();
  list += "]";
  Json j;
  j.str("scenario", "echo_sweep")
      .num("conns", static_cast<double>(conns))
      .num("threshold_ms", threshold_us / 1e3)
      .num("max_rate_ok", last_good)
      .num("first_rate_over", first_bad > 0 ? first_bad : NAN)
      .raw("steps", list);
  add_driver_stats(j, echo.driver());
  std::printf("%s\n", j.done().c_str());
  return 0;
}

// ---- fanout -------------------------------------------------------------------------------

class Fanout : public Pool {
 public:
  using Pool::Pool;

  void on_event(Conn&, const std::string& event, const Value& data) override {
    if (event != "bcast" || data.size() < 2) return;
    const Value* t = data[1].find("t");
    if (t == nullptr || !t->is_number()) return;
    const std::int64_t sched = epoch_ + static_cast<std::int64_t>(t->as_number());
    const std::int64_t now = now_ns();
    // Throughput counts arrivals inside the window (what the server managed to push out),
    // latency and losses the broadcasts sent inside it.
    if (now >= win_start_ && now < win_end_) ++arrivals_in_window_;
    if (sched >= win_start_ && sched < win_end_) {
      lat_.add(now - sched);
      ++deliveries_;
    }
  }

  std::string run(double rate, double seconds, double warmup, long pid) {
    const std::size_t receivers = ready_.size();
    const std::int64_t start = now_ns() + 1'000'000;
    win_start_ = start + static_cast<std::int64_t>(warmup * kNsPerSec);
    win_end_ = win_start_ + static_cast<std::int64_t>(seconds * kNsPerSec);
    const double interval = kNsPerSec / rate;
    std::uint64_t seq = 0;
    std::uint64_t sent_in_window = 0;
    CpuWindow cpu(pid);
    bool cpu_started = false;
    std::int64_t lag_max = 0;
    driver_.set_ticker(
        [&](std::int64_t now) -> std::int64_t {
          std::int64_t due = start + static_cast<std::int64_t>(static_cast<double>(seq) * interval);
          if (due >= win_start_ && due < win_end_) lag_max = std::max(lag_max, now - due);
          while (due <= now && due < win_end_) {
            if (!cpu_started && due >= win_start_) {
              cpu.reset();
              cpu_started = true;
            }
            Array args;
            // Nanoseconds since the loadgen's epoch: exact in a double for 104 days.
            args.push_back(Value::object(
                {{"t", Value(static_cast<double>(due - epoch_))}, {"seq", Value(static_cast<double>(seq))}}));
            // The first ready client sends (another takes over if it is lost).
            if (!ready_.empty() && driver_.emit(*ready_.front(), "broadcast", std::move(args), false, due) &&
                due >= win_start_) {
              ++sent_in_window;
            }
            ++seq;
            due = start + static_cast<std::int64_t>(static_cast<double>(seq) * interval);
          }
          return due < win_end_ ? due : INT64_MAX;
        },
        start);
    driver_.run_until(win_end_);
    const double loadgen_cpu = cpu.self_share();
    const double server_cpu = cpu.server_share();
    driver_.clear_ticker();
    const std::uint64_t expected = sent_in_window * receivers;
    driver_.run_until(now_ns() + 2 * kNsPerSec, [&] { return deliveries_ >= expected; });
    const std::uint64_t missing = expected > deliveries_ ? expected - deliveries_ : 0;
    Json j;
    j.str("scenario", "fanout")
        .num("clients", static_cast<double>(receivers))
        .num("rate", rate)
        .num("seconds", seconds)
        .num("broadcasts", static_cast<double>(sent_in_window))
        .num("expected", static_cast<double>(expected))
        .num("deliveries", static_cast<double>(deliveries_))
        .num("missing", static_cast<double>(missing))
        .num("delivered_fraction",
             expected ? static_cast<double>(std::min(deliveries_, expected)) / static_cast<double>(expected) : NAN)
        .num("deliveries_per_s", static_cast<double>(arrivals_in_window_) / seconds)
        .num("p50_us", lat_.percentile_us(0.50, missing))
        .num("p99_us", lat_.percentile_us(0.99, missing))
        .num("max_us", missing ? INFINITY : lat_.max_us())
        .num("send_lag_max_us", static_cast<double>(lag_max) / 1e3)
        .num("loadgen_cpu", loadgen_cpu)
        .num("server_cpu", server_cpu)
        .num("clients_lost", static_cast<double>(lost_));
    add_driver_stats(j, driver_);
    return j.done();
  }

 private:
  std::int64_t epoch_ = now_ns();
  std::int64_t win_start_ = 0;
  std::int64_t win_end_ = 0;
  std::uint64_t deliveries_ = 0;
  std::uint64_t arrivals_in_window_ = 0;
  Latencies lat_;
};

int run_fanout(const Flags& f) {
  const std::size_t clients = static_cast<std::size_t>(f.num("clients", 1000));
  Fanout fanout(f);
  if (!fanout.open(clients, f.num("timeout", 60))) {
    std::fprintf(stderr, "chorus-loadgen: only %zu of %zu clients ready (%s)\n", fanout.ready().size(), clients,
                 fanout.driver().stats().last_error.c_str());
    return 1;
  }
  std::printf(
      "%s\n",
      fanout.run(f.num("rate", 50), f.num("seconds", 5), f.num("warmup", 1), static_cast<long>(f.num("server-pid", 0)))
          .c_str());
  return 0;
}

// ---- cluster ------------------------------------------------------------------------------

// Fan-out across two nodes of one cluster: the clients alternate between node A (--port) and
// node B (--port2), all in room1; a client on A broadcasts (with --alternate, a client on A
// and one on B take turns). Every delivery is classed by where its receiver sits: on the
// sending node ("local") or on the other one ("remote": it crossed Redis).
class Cluster : public Pool {
 public:
  Cluster(const Flags& f, int port_a, int port_b) : Pool(f), port_a_(port_a) { ports_ = {port_a, port_b}; }

  void on_event(Conn& c, const std::string& event, const Value& data) override {
    if (event != "bcast" || data.size() < 2) return;
    const Value* t = data[1].find("t");
    const Value* from = data[1].find("from");
    if (t == nullptr || !t->is_number() || from == nullptr || !from->is_number()) return;
    const std::int64_t sched = epoch_ + static_cast<std::int64_t>(t->as_number());
    const std::int64_t now = now_ns();
    Class& k = cls_[node_of(c) == static_cast<int>(from->as_number()) ? 0 : 1];
    if (now >= win_start_ && now < win_end_) ++k.arrivals_in_window;
    if (sched >= win_start_ && sched < win_end_) {
      k.lat.add(now - sched);
      ++k.deliveries;
    }
  }

  std::string run(double rate, double seconds, double warmup, bool alternate, long pid_a, long pid_b, long redis_pid) {
    std::size_t on_node[2] = {0, 0};
    for (Conn* c : ready_) ++on_node[node_of(*c)];
    const std::int64_t start = now_ns() + 1'000'000;
    win_start_ = start + static_cast<std::int64_t>(warmup * kNsPerSec);
    win_end_ = win_start_ + static_cast<std::int64_t>(seconds * kNsPerSec);
    const double interval = kNsPerSec / rate;
    std::uint64_t seq = 0;
    std::uint64_t sent_in_window[2] = {0, 0};  // by sending node
    CpuWindow cpu_a(pid_a), cpu_b(pid_b), cpu_redis(redis_pid);
    bool cpu_started = false;
    std::int64_t lag_max = 0;
    driver_.set_ticker(
        [&](std::int64_t now) -> std::int64_t {
          std::int64_t due = start + static_cast<std::int64_t>(static_cast<double>(seq) * interval);
          if (due >= win_start_ && due < win_end_) lag_max = std::max(lag_max, now - due);
          while (due <= now && due < win_end_) {
            if (!cpu_started && due >= win_start_) {
              cpu_a.reset();
              cpu_b.reset();
              cpu_redis.reset();
              cpu_started = true;
            }
            const int from = alternate ? static_cast<int>(seq % 2) : 0;
            Array args;
            args.push_back(Value::object({{"t", Value(static_cast<double>(due - epoch_))},
                                          {"seq", Value(static_cast<double>(seq))},
                                          {"from", Value(static_cast<double>(from))}}));
            // The first ready client of the sending node sends (another takes over if it is lost).
            Conn* sender = nullptr;
            for (Conn* c : ready_) {
              if (node_of(*c) == from) {
                sender = c;
                break;
              }
            }
            if (sender != nullptr && driver_.emit(*sender, "broadcast", std::move(args), false, due) &&
                due >= win_start_) {
              ++sent_in_window[from];
            }
            ++seq;
            due = start + static_cast<std::int64_t>(static_cast<double>(seq) * interval);
          }
          return due < win_end_ ? due : INT64_MAX;
        },
        start);
    driver_.run_until(win_end_);
    const double loadgen_cpu = cpu_a.self_share();
    const double cpu_node_a = cpu_a.server_share();
    const double cpu_node_b = cpu_b.server_share();
    const double cpu_redis_share = cpu_redis.server_share();
    driver_.clear_ticker();
    // Local: each broadcast reaches the clients of its own node; remote: those of the other.
    const std::uint64_t expected[2] = {sent_in_window[0] * on_node[0] + sent_in_window[1] * on_node[1],
                                       sent_in_window[0] * on_node[1] + sent_in_window[1] * on_node[0]};
    driver_.run_until(now_ns() + 2 * kNsPerSec,
                      [&] { return cls_[0].deliveries >= expected[0] && cls_[1].deliveries >= expected[1]; });
    std::uint64_t missing[2];
    for (int i = 0; i < 2; ++i) missing[i] = expected[i] > cls_[i].deliveries ? expected[i] - cls_[i].deliveries : 0;
    Latencies all;
    for (Class& k : cls_) all.ns.insert(all.ns.end(), k.lat.ns.begin(), k.lat.ns.end());
    const std::uint64_t all_expected = expected[0] + expected[1];
    const std::uint64_t all_deliveries = cls_[0].deliveries + cls_[1].deliveries;
    const std::uint64_t all_missing = missing[0] + missing[1];
    Json j;
    j.str("scenario", "cluster")
        .str("from", alternate ? "both" : "a")
        .num("clients", static_cast<double>(ready_.size()))
        .num("clients_a", static_cast<double>(on_node[0]))
        .num("clients_b", static_cast<double>(on_node[1]))
        .num("rate", rate)
        .num("seconds", seconds)
        .num("broadcasts", static_cast<double>(sent_in_window[0] + sent_in_window[1]))
        .num("expected", static_cast<double>(all_expected))
        .num("deliveries", static_cast<double>(all_deliveries))
        .num("missing", static_cast<double>(all_missing))
        .num("delivered_fraction", all_expected ? static_cast<double>(std::min(all_deliveries, all_expected)) /
                                                      static_cast<double>(all_expected)
                                                : NAN)
        .num("deliveries_per_s", static_cast<double>(cls_[0].arrivals_in_window + cls_[1].arrivals_in_window) / seconds)
        .num("p50_us", all.percentile_us(0.50, all_missing))
        .num("p99_us", all.percentile_us(0.99, all_missing));
    const char* names[2] = {"local", "remote"};
    for (int i = 0; i < 2; ++i) {
      const std::string n = names[i];
      j.num(n + "_expected", static_cast<double>(expected[i]))
          .num(n + "_missing", static_cast<double>(missing[i]))
          .num(n + "_deliveries_per_s", static_cast<double>(cls_[i].arrivals_in_window) / seconds)
          .num(n + "_p50_us", cls_[i].lat.percentile_us(0.50, missing[i]))
          .num(n + "_p99_us", cls_[i].lat.percentile_us(0.99, missing[i]));
    }
    j.num("send_lag_max_us", static_cast<double>(lag_max) / 1e3)
        .num("loadgen_cpu", loadgen_cpu)
        .num("server_cpu", pid_a > 0 && pid_b > 0 ? cpu_node_a + cpu_node_b : NAN)
        .num("server_cpu_a", pid_a > 0 ? cpu_node_a : NAN)
        .num("server_cpu_b", pid_b > 0 ? cpu_node_b : NAN)
        .num("redis_cpu", redis_pid > 0 ? cpu_redis_share : NAN)
        .num("clients_lost", static_cast<double>(lost_));
    add_driver_stats(j, driver_);
    return j.done();
  }

 private:
  struct Class {
    Latencies lat;
    std::uint64_t deliveries = 0;          // of broadcasts sent inside the window
    std::uint64_t arrivals_in_window = 0;  // of any broadcast, arriving inside the window
  };
  int node_of(const Conn& c) const { return c.port == port_a_ ? 0 : 1; }

  int port_a_;
  std::int64_t epoch_ = now_ns();
  std::int64_t win_start_ = 0;
  std::int64_t win_end_ = 0;
  Class cls_[2];  // local, remote
};

int run_cluster(const Flags& f) {
  const std::size_t clients = static_cast<std::size_t>(f.num("clients", 1000));
  if (!f.has("port2")) {
    std::fprintf(stderr, "chorus-loadgen: cluster needs --port2 (node B)\n");
    return 2;
  }
  const int port_a = static_cast<int>(f.num("port", 0));
  const int port_b = static_cast<int>(f.num("port2", 0));
  if (port_a == port_b) {
    std::fprintf(stderr, "chorus-loadgen: cluster needs two nodes: --port and --port2 are the same\n");
    return 2;
  }
  Cluster cluster(f, port_a, port_b);
  if (!cluster.open(clients, f.num("timeout", 60))) {
    std::fprintf(stderr, "chorus-loadgen: only %zu of %zu clients ready (%s)\n", cluster.ready().size(), clients,
                 cluster.driver().stats().last_error.c_str());
    return 1;
  }
  std::printf("%s\n", cluster
                          .run(f.num("rate", 50), f.num("seconds", 5), f.num("warmup", 1), f.has("alternate"),
                               static_cast<long>(f.num("server-pid", 0)), static_cast<long>(f.num("server-pid2", 0)),
                               static_cast<long>(f.num("redis-pid", 0)))
                          .c_str());
  return 0;
}

// ---- churn --------------------------------------------------------------------------------

class Churn : public Handler {
 public:
  explicit Churn(const Flags& f) : driver_(f.str("host", "127.0.0.1"), static_cast<int>(f.num("port", 0)), this) {
    configure(driver_, f);
  }

  void on_ready(Conn& c) override {
    const std::int64_t now = now_ns();
    if (measuring(c.started_ns)) connect_lat_.add(now - c.started_ns);
    driver_.close(c);
  }
  void on_closed(Conn& c, bool clean, const std::string&) override {
    if (measuring(c.started_ns)) {
      if (clean && c.ready_ns != 0) {
        ++cycles_;
      } else {
        ++failures_;
      }
    }
    if (running_) start_one();
  }

  std::string run(double seconds, double warmup, std::size_t concurrency, long pid) {
    win_start_ = now_ns() + static_cast<std::int64_t>(warmup * kNsPerSec);
    win_end_ = win_start_ + static_cast<std::int64_t>(seconds * kNsPerSec);
    running_ = true;
    for (std::size_t i = 0; i < concurrency; ++i) start_one();
    driver_.run_until(win_start_);
    CpuWindow cpu(pid);
    driver_.run_until(win_end_);
    const double loadgen_cpu = cpu.self_share();
    const double server_cpu = cpu.server_share();
    running_ = false;
    // Cycles started inside the window may finish after it: wait for them (2 s at most).
    driver_.run_until(now_ns() + 2 * kNsPerSec, [&] { return driver_.open_count() == 0; });
    Json j;
    j.str("scenario", "churn")
        .num("seconds", seconds)
        .num("concurrency", static_cast<double>(concurrency))
        .num("cycles", static_cast<double>(cycles_))
        .num("cycles_per_s", static_cast<double>(cycles_) / seconds)
        .num("failures", static_cast<double>(failures_))
        .num("connect_p50_us", connect_lat_.percentile_us(0.5))
        .num("connect_p99_us", connect_lat_.percentile_us(0.99))
        .num("loadgen_cpu", loadgen_cpu)
        .num("server_cpu", server_cpu);
    add_driver_stats(j, driver_);
    return j.done();
  }

 private:
  bool measuring(std::int64_t started) const { return started >= win_start_ && started < win_end_; }
  void start_one() {
    if (driver_.open() == nullptr && measuring(now_ns())) ++failures_;
  }

  Driver driver_;
  bool running_ = false;
  std::int64_t win_start_ = 0;
  std::int64_t win_end_ = 0;
  std::uint64_t cycles_ = 0;
  std::uint64_t failures_ = 0;
  Latencies connect_lat_;
};

int run_churn(const Flags& f) {
  Churn churn(f);
  std::printf("%s\n",
              churn
                  .run(f.num("seconds", 5), f.num("warmup", 0.5), static_cast<std::size_t>(f.num("concurrency", 16)),
                       static_cast<long>(f.num("server-pid", 0)))
                  .c_str());
  return 0;
}

// ---- startup ------------------------------------------------------------------------------

// One HTTP GET on a fresh connection (blocking, 1 s timeouts): the status code, or -1 when
// nothing answers yet (refused, reset, timed out).
int http_status(const std::string& host, int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      std::string head;
      char buf[512];
      while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      // "HTTP/1.1 200 OK"
      if (head.rfind("HTTP/1.", 0) == 0 && head.size() >= 12) status = std::atoi(head.c_str() + 9);
    }
  }
  ::close(fd);
  return status;
}

void sleep_ns(std::int64_t ns) {
  timespec ts{static_cast<time_t>(ns / kNsPerSec), static_cast<long>(ns % kNsPerSec)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Starts COMMAND (pinned to --cpu), times the first HTTP 200 on --path, reads its RSS and
// thread count after --settle seconds, then stops it with SIGTERM and times the exit.
int run_startup(const Flags& f, const std::vector<std::string>& command) {
  const std::string host = f.str("host", "127.0.0.1");
  const int port = static_cast<int>(f.num("port", 0));
  const std::string path = f.str("path", "/socket.io/?EIO=4&transport=polling");
  const int cpu = static_cast<int>(f.num("cpu", -1));
  const double settle = f.num("settle", 1);
  const std::int64_t timeout_ns = static_cast<std::int64_t>(f.num("timeout", 30) * kNsPerSec);
  std::vector<char*> argv;
  for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (http_status(host, port, path) != -1) {
    std::fprintf(stderr, "chorus-loadgen: something already answers on port %d\n", port);
    return 1;
  }
  const std::int64_t t0 = now_ns();
  const pid_t child = fork();
  if (child < 0) {
    std::perror("chorus-loadgen: fork");
    return 1;
  }
  if (child == 0) {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    dup2(2, 1);  // the server's output goes to stderr: stdout carries the result only
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "chorus-loadgen: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int wstatus = 0;
  bool exited = false;
  int status = -1;
  std::uint64_t polls = 0;
  while (now_ns() - t0 < timeout_ns) {
    if (waitpid(child, &wstatus, WNOHANG) == child) {
      exited = true;
      break;
    }
    ++polls;
    status = http_status(host, port, path);
    if (status == 200) break;
    sleep_ns(500'000);
  }
  const double start_ms = static_cast<double>(now_ns() - t0) / 1e6;
  Json j;
  j.str("scenario", "startup").str("command", command[0]);
  if (status != 200) {
    if (!exited) {
      kill(child, SIGKILL);
      waitpid(child, &wstatus, 0);
    }
    j.num("first_status", status).str("error", exited ? "exited before answering 200" : "no HTTP 200 in time");
    std::printf("%s\n", j.done().c_str());
    return 1;
  }
  sleep_ns(static_cast<std::int64_t>(settle * kNsPerSec));
  const long rss = read_rss_kb(child);
  const long threads = read_threads(child);
  const std::int64_t t_stop = now_ns();
  kill(child, SIGTERM);
  double stop_ms = NAN;
  for (;;) {
    if (waitpid(child, &wstatus, WNOHANG) == child) {
      stop_ms = static_cast<double>(now_ns() - t_stop) / 1e6;
      break;
    }
    if (now_ns() - t_stop > 5 * kNsPerSec) {
      kill(child, SIGKILL);
      waitpid(child, &wstatus, 0);
      break;
    }
    sleep_ns(200'000);
  }
  j.num("start_ms", start_ms)
      .num("polls", static_cast<double>(polls))
      .num("settle_s", settle)
      .num("rss_kb", static_cast<double>(rss))
      .num("rss_mb", static_cast<double>(rss) / 1024.0)
      .num("threads", static_cast<double>(threads))
      .num("stop_ms", stop_ms)  // null: still running 5 s after SIGTERM (killed)
      .num("exit_code", WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)
      .num("exit_signal", WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
  std::printf("%s\n", j.done().c_str());
  return std::isnan(stop_ms) ? 1 : 0;
}

constexpr const char* kUsage =
    "usage: chorus-loadgen <idle|echo|fanout|cluster|churn|startup> --port P [flags]\n"
    "  idle   --conns N --server-pid PID [--settle S] [--engine-only]\n"
    "  echo   --rate R --seconds S --conns C [--warmup W]\n"
    "  echo   --sweep [--rate START] [--factor F] [--max-rate M] [--threshold-ms T]\n"
    "         [--seconds S] [--conns C] [--refine K]\n"
    "  fanout --clients N --rate R --seconds S [--warmup W]\n"
    "  cluster --port2 P2 --clients N --rate R --seconds S [--warmup W] [--alternate]\n"
    "         [--server-pid2 PID] [--redis-pid PID]\n"
    "         two nodes of one cluster (--port: A, --port2: B), clients alternating between\n"
    "         them; a client on A broadcasts (--alternate: A and B take turns); deliveries\n"
    "         and latency on the sending node (local) and on the other (remote)\n"
    "  churn  --seconds S [--concurrency K] [--warmup W]\n"
    "  startup [--cpu C] [--settle S] [--path URL] -- COMMAND [ARGS...]\n"
    "         runs COMMAND (it must serve --port P), times its first HTTP 200 on URL\n"
    "         (default /socket.io/?EIO=4&transport=polling), reads RSS and threads\n"
    "         after S seconds (1), stops it with SIGTERM\n"
    "common: --host ADDR (127.0.0.1), --server-pid PID, --timeout S, --tls (wss),\n"
    "        --source-addrs N (bind to 127.0.0.2..127.0.0.N+1 in turn), --help (this text)\n";

}  // namespace
}  // namespace chorus::bench

int main(int argc, char** argv) {
  using namespace chorus::bench;
  chorus::tools::CommandLine cl("chorus-loadgen", kUsage);
  // Everything after "--" is the command `startup` runs.
  int flags_end = 1;
  while (flags_end < argc && std::string(argv[flags_end]) != "--") ++flags_end;
  std::vector<std::string> command(argv + std::min(flags_end + 1, argc), argv + argc);
  const Flags f = parse_flags(flags_end, argv, flags_end > 1 && argv[1][0] != '-' ? 2 : 1, kUsage);
  if (argc < 2 || argv[1][0] == '-') cl.fail("missing command: idle, echo, fanout, cluster, churn or startup");
  const std::string cmd = argv[1];
  if (cmd != "idle" && cmd != "echo" && cmd != "fanout" && cmd != "cluster" && cmd != "churn" && cmd != "startup") {
    cl.fail("unknown command '" + cmd + "'");
  }
  if (!f.has("port")) cl.fail("--port is required");
  if ((cmd == "startup") != !command.empty()) {
    cl.fail(cmd == "startup" ? "startup needs -- COMMAND [ARGS...]" : "a command after -- is for startup only");
  }
  std::signal(SIGPIPE, SIG_IGN);
  raise_nofile_limit();
  if (cmd == "startup") return run_startup(f, command);
  if (cmd == "idle") return run_idle(f);
  if (cmd == "echo") return run_echo(f);
  if (cmd == "fanout") return run_fanout(f);
  if (cmd == "cluster") return run_cluster(f);
  return run_churn(f);
}
