// A FIFO queue on a growable ring buffer that allocates nothing until its first element and
// gives its buffer back once it is empty again.
//
// Every open connection holds a few outbound queues that are empty nearly all the time.
// libstdc++'s std::deque allocates a 64-byte map and a 512-byte node when it is constructed,
// about 1.1 KiB for the two queues of an idle WebSocket; this queue costs its 32 bytes while
// empty. Filling and draining it costs one small allocation (4 elements, from malloc's
// per-thread cache), against the system call that writes what it held.
//
// Thread-safety: none (the owner's lock or loop thread serialises access).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace chorus {

template <class T>
class RingQueue {
 public:
  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  // The i-th element from the front.
  T& operator[](std::size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](std::size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }

  void push_back(T value) {
    if (size_ == cap_) grow();
    buf_[(head_ + size_) & (cap_ - 1)] = std::move(value);
    ++size_;
  }
  void pop_front() {
    buf_[head_] = T();
    head_ = (head_ + 1) & (cap_ - 1);
    if (--size_ == 0) drained();
  }
  void clear() {
    for (std::size_t i = 0; i < size_; ++i) (*this)[i] = T();
    size_ = 0;
    drained();
  }
  // Removes the elements matching `pred`, keeping the order of the others.
  template <class Pred>
  void remove_if(Pred pred) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      if (pred((*this)[i])) continue;
      if (kept != i) (*this)[kept] = std::move((*this)[i]);
      ++kept;
    }
    for (std::size_t i = kept; i < size_; ++i) (*this)[i] = T();
    size_ = kept;
    if (size_ == 0) drained();
  }

 private:
  void grow() {
    std::size_t cap = cap_ == 0 ? 4 : cap_ * 2;  // a power of two: indexes wrap with a mask
    std::unique_ptr<T[]> buf(new T[cap]);
    for (std::size_t i = 0; i < size_; ++i) buf[i] = std::move((*this)[i]);
    buf_ = std::move(buf);
    cap_ = cap;
    head_ = 0;
  }
  void drained() {
    head_ = 0;
    buf_.reset();
    cap_ = 0;
  }

  std::unique_ptr<T[]> buf_;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace chorus
