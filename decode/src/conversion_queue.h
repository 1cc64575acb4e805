// Private: runs colour conversions on a worker thread so the decoder threads never wait for
// them (Note [Background conversion] in conversion_queue.cpp).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "ffmpeg_common.h"
#include "frame_converter.h"

namespace sfvu::decode {

class ConversionQueue {
 public:
  /// `background` false: every job runs inline at submission (single-threaded callers).
  ConversionQueue(bool background, size_t capacity);
  ~ConversionQueue();
  ConversionQueue(const ConversionQueue&) = delete;
  ConversionQueue& operator=(const ConversionQueue&) = delete;

  /// Converts `frame` (a new reference is taken) into `dst`. `dst` must stay valid and
  /// unmoved until wait_idle() returns.
  void convert(FrameConverter& converter, const AVFrame& frame, uint8_t* dst);
  /// Copies `bytes` from `src` (possibly the target of an earlier job) to `dst`, in order.
  void copy(const uint8_t* src, uint8_t* dst, size_t bytes);
  /// Blocks until every submitted job is done; rethrows a job's failure.
  void wait_idle();

 private:
  struct Job {
    FrameConverter* converter = nullptr;  // null: a copy job
    ff::FramePtr frame;
    const uint8_t* src = nullptr;
    uint8_t* dst = nullptr;
    size_t bytes = 0;
  };
  void submit(Job job);
  static void run(Job& job);
  void worker();

  const bool background_;
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> jobs_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace sfvu::decode
