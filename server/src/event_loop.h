// Chorus's event loops: where taken-over connections (WebSockets, SSE streams, held polls)
// live once CivetWeb's front door has handed them over (DESIGN.md §3).
//
// One EventLoop is one thread around an epoll instance: readiness of the connections it
// owns, an eventfd through which other threads hand it work (post) and ask it to write
// (request_flush), and timers. A connection belongs to one loop for its whole life; every
// use of its socket happens on that loop's thread. A LoopGroup holds one loop per core and
// hands new connections out in turn.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chorus/error.h"
#include "timer_queue.h"

namespace chorus {

// Something a loop calls back on its own thread.
class LoopWatcher {
 public:
  virtual ~LoopWatcher() = default;
  virtual void on_events(std::uint32_t events) = 0;  // EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR
  // The loop is stopping and this is still registered: close now.
  virtual void on_loop_stop() = 0;
};

// Something with bytes to write that other threads wake: the loop calls flush() once per
// iteration however many times request_flush() was called meanwhile.
class LoopFlushable {
 public:
  virtual ~LoopFlushable() = default;
  virtual void flush() = 0;
};

class EventLoop {
 public:
  using TimerId = std::uint64_t;

  explicit EventLoop(int index);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts the thread (stack: kStackBytes, as handlers run here); an error when epoll, the
  // eventfd or the thread cannot be created.
  Status start();
  // Runs what was posted until now, tells every watcher still registered (on_loop_stop), then
  // ends the thread. Owners close their connections gracefully before (the transport's stop).
  void stop();

  // Any thread. Runs `fn` on the loop thread, in posting order.
  void post(std::function<void()> fn);
  // Any thread. Calls `target->flush()` on the loop thread at its next iteration. The caller
  // keeps one request outstanding per target (see Connection::request_flush).
  void request_flush(std::shared_ptr<LoopFlushable> target);
  bool in_loop_thread() const { return std::this_thread::get_id() == thread_id_.load(); }

  // Loop thread only. Registers `fd` for `events` (edge-triggered: EPOLLET is added).
  bool watch(int fd, std::uint32_t events, LoopWatcher* watcher);
  bool rewatch(int fd, std::uint32_t events, LoopWatcher* watcher);
  void unwatch(int fd, LoopWatcher* watcher);

  // Loop thread only. `fn` runs on the loop at `deadline_ms` (steady clock, now_ms()).
  TimerId add_timer(std::uint64_t deadline_ms, std::function<void()> fn);
  void cancel_timer(TimerId id);

  // A 64 KiB buffer reads use on this loop (one per loop, not one per connection).
  char* read_buffer() { return read_buffer_.data(); }
  std::size_t read_buffer_size() const { return read_buffer_.size(); }

  int index() const { return index_; }
  // Connections registered on this loop (for the startup line and tests).
  std::size_t watched() const { return watched_.load(std::memory_order_relaxed); }

  // Handlers run on loop threads, as on CivetWeb's workers: the same stack.
  static constexpr std::size_t kStackBytes = std::size_t{8} << 20;

 private:
  void run();
  void wake();
  void run_timers();
  int next_timeout_ms();

  const int index_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  pthread_t thread_{};
  bool started_ = false;
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> watched_{0};
  std::unordered_set<LoopWatcher*> watchers_;  // loop thread only

  std::mutex mu_;  // guards the two lists below and woken_
  std::vector<std::function<void()>> posted_;
  std::vector<std::shared_ptr<LoopFlushable>> flushes_;
  bool woken_ = false;  // the eventfd was written and not yet read

  TimerQueue timers_;  // loop thread only

  std::vector<char> read_buffer_;
  friend void* event_loop_entry(void*);
};

// One loop per I/O thread; connections are spread over them in turn.
class LoopGroup {
 public:
  explicit LoopGroup(std::size_t count);
  Status start();
  void stop();
  EventLoop& next();
  std::size_t size() const { return loops_.size(); }
  EventLoop& at(std::size_t i) { return *loops_[i]; }
  const EventLoop& at(std::size_t i) const { return *loops_[i]; }

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace chorus
