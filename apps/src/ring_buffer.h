// A bounded, drop-oldest queue between one capture thread and one consumer (STYLE rule 7;
// Note [Live streaming threads] in stream_capture.h).
//
// Usage:
//   RingBuffer<Frame> ring(32);
//   // producer (capture thread): never blocks beyond a short critical section
//   if (ring.push(std::move(frame)) == PushResult::kDroppedOldest) { /* warn once */ }
//   ring.close();                           // end of input: wakes the consumer
//   // consumer: blocks until items, close(), or the deadline
//   std::vector<Frame> batch;
//   while (ring.pop_all(batch, std::chrono::milliseconds(50)) || !ring.drained()) { ... }
//
// Semantics:
//   - push() on a full buffer removes the oldest item and counts it in dropped(); the newest
//     always gets in. push() after close() is refused (kClosed) and not counted as a drop.
//   - pop()/pop_all() return the items still queued after close() (nothing captured is lost
//     at a clean end), then report empty; drained() says both closed and empty.
//   - counters (pushed, dropped) only grow; tests assert on them.
// Thread safety: every member may be called from any thread; designed for one producer and
// one consumer, correct for several.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace sfvu::cli {

enum class PushResult {
  kQueued,         ///< stored, nothing lost
  kDroppedOldest,  ///< stored; the oldest item was dropped to make room
  kClosed,         ///< refused: the buffer was closed
};

template <typename T>
class RingBuffer {
 public:
  /// `capacity` >= 1 items; throws std::invalid_argument otherwise.
  explicit RingBuffer(size_t capacity) : capacity_(capacity) {
    if (capacity == 0) throw std::invalid_argument("RingBuffer capacity must be at least 1");
  }
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;

  /// Adds `item`; when full, drops the oldest first. Never waits for the consumer.
  PushResult push(T item) {
    PushResult result = PushResult::kQueued;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) return PushResult::kClosed;
      if (items_.size() == capacity_) {
        items_.pop_front();
        ++dropped_;
        result = PushResult::kDroppedOldest;
      }
      items_.push_back(std::move(item));
      ++pushed_;
    }
    ready_.notify_one();
    return result;
  }

  /// The oldest item, waiting until one is queued or the buffer is closed and empty (nullopt).
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty() || closed_; });
    return take_front();
  }

  /// Like pop(), but gives up after `timeout` (nullopt).
  template <typename Rep, typename Period>
  std::optional<T> pop_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    return take_front();
  }

  /// Moves every queued item, oldest first, into `out` (cleared first), waiting up to
  /// `timeout` for the first one. Returns false when nothing came (timeout or drained).
  template <typename Rep, typename Period>
  bool pop_all(std::vector<T>& out, std::chrono::duration<Rep, Period> timeout) {
    out.clear();
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    while (!items_.empty()) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return !out.empty();
  }

  /// Refuses further pushes and wakes every waiting consumer. Idempotent.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
  }
  /// Closed and nothing left to pop.
  bool drained() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_ && items_.empty();
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  /// Items accepted by push() (dropped ones included).
  int64_t pushed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pushed_;
  }
  /// Items removed unseen because the buffer was full.
  int64_t dropped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return dropped_;
  }

 private:
  std::optional<T> take_front() {  // caller holds the lock
    if (items_.empty()) return std::nullopt;
    std::optional<T> item(std::move(items_.front()));
    items_.pop_front();
    return item;
  }

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
  int64_t pushed_ = 0, dropped_ = 0;
};

}  // namespace sfvu::cli
