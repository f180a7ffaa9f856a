// EventLoop and LoopGroup (event_loop.h).
#include "event_loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "internal.h"

namespace chorus {

EventLoop::EventLoop(int index) : index_(index), read_buffer_(64 * 1024) {}

EventLoop::~EventLoop() {
  stop();
  if (event_fd_ >= 0) ::close(event_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void* event_loop_entry(void* arg) {
  auto* loop = static_cast<EventLoop*>(arg);
  std::string name = "chorus-io-" + std::to_string(loop->index_);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  loop->run();
  return nullptr;
}

Status EventLoop::start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd_ < 0) {
    return make_error(ErrorCode::kProtocol, std::string("cannot create an event loop: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the eventfd
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStackBytes);
  int rc = pthread_create(&thread_, &attr, event_loop_entry, this);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    return make_error(ErrorCode::kProtocol, std::string("cannot start an event loop thread: ") + std::strerror(rc));
  }
  started_ = true;
  return Ok{};
}

void EventLoop::stop() {
  if (!started_) return;
  stopping_ = true;
  wake();
  pthread_join(thread_, nullptr);
  started_ = false;
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  ssize_t n = ::write(event_fd_, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is full, the loop wakes anyway
}

void EventLoop::post(std::function<void()> fn) {
  bool need_wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(fn));
    need_wake = !woken_;
    woken_ = true;
  }
  if (need_wake) wake();
}

void EventLoop::request_flush(std::shared_ptr<LoopFlushable> target) {
  bool need_wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    flushes_.push_back(std::move(target));
    need_wake = !woken_;
    woken_ = true;
  }
  if (need_wake) wake();
}

bool EventLoop::watch(int fd, std::uint32_t events, LoopWatcher* watcher) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = watcher;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watchers_.insert(watcher);
  watched_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool EventLoop::rewatch(int fd, std::uint32_t events, LoopWatcher* watcher) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = watcher;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::unwatch(int fd, LoopWatcher* watcher) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (watchers_.erase(watcher) != 0) watched_.fetch_sub(1, std::memory_order_relaxed);
}

EventLoop::TimerId EventLoop::add_timer(std::uint64_t deadline_ms, std::function<void()> fn) {
  return timers_.add(deadline_ms, std::move(fn));
}

void EventLoop::cancel_timer(TimerId id) {
  timers_.cancel(id);
}

int EventLoop::next_timeout_ms() {
  if (timers_.empty()) return -1;
  std::uint64_t now = now_ms();
  std::uint64_t first = timers_.next_deadline();
  return first <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(first - now, 60'000));
}

void EventLoop::run_timers() {
  const std::uint64_t now = now_ms();
  while (auto fn = timers_.pop_due(now)) (*fn)();
}

void EventLoop::run() {
  thread_id_ = std::this_thread::get_id();
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  std::vector<std::function<void()>> posted;
  std::vector<std::shared_ptr<LoopFlushable>> flushes;
  while (true) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, next_timeout_ms());
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        std::uint64_t count;
        while (::read(event_fd_, &count, sizeof count) > 0) {
        }
        continue;
      }
      static_cast<LoopWatcher*>(events[i].data.ptr)->on_events(events[i].events);
    }
    run_timers();
    // Work from other threads: posted tasks first (they may register connections), then the
    // writes they asked for. Both lists are taken whole, so one lock per iteration.
    {
      std::lock_guard<std::mutex> lock(mu_);
      posted.swap(posted_);
      flushes.swap(flushes_);
      woken_ = false;
    }
    for (auto& fn : posted) fn();
    posted.clear();
    for (auto& f : flushes) f->flush();
    flushes.clear();
    if (stopping_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (posted_.empty() && flushes_.empty()) break;
    }
  }
  // Whatever is still open closes now (each unwatches itself), then what that posted runs.
  while (!watchers_.empty()) (*watchers_.begin())->on_loop_stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted.swap(posted_);
    flushes_.clear();
  }
  for (auto& fn : posted) fn();
  thread_id_ = std::thread::id();
}

LoopGroup::LoopGroup(std::size_t count) {
  if (count == 0) count = 1;
  for (std::size_t i = 0; i < count; ++i) loops_.push_back(std::make_unique<EventLoop>(static_cast<int>(i)));
}

Status LoopGroup::start() {
  for (auto& loop : loops_) {
    if (Status s = loop->start(); !s) return s;
  }
  return Ok{};
}

void LoopGroup::stop() {
  for (auto& loop : loops_) loop->stop();
}

EventLoop& LoopGroup::next() {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

}  // namespace chorus
