// Note [Background conversion]
// With frame threading the decoder keeps several frames in flight, but only while the caller
// keeps feeding it packets. Converting on the calling thread stalls that feed for ~1 ms per
// frame; on 2 cores the decoder then leaves a third of the CPU idle. So conversions run on
// one worker in submission order (a copy job submitted after a conversion sees its result),
// through a bounded queue (the caller blocks when it is full: memory stays bounded), and the
// caller waits for the queue to drain before it hands a chunk out.
#include "conversion_queue.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace sfvu::decode {

ConversionQueue::ConversionQueue(bool background, size_t capacity)
    : background_(background), capacity_(std::max<size_t>(1, capacity)) {
  if (background_) thread_ = std::thread([this] { worker(); });
}

ConversionQueue::~ConversionQueue() {
  if (!background_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void ConversionQueue::run(Job& job) {
  if (job.converter) job.converter->convert(*job.frame, job.dst);
  else std::memcpy(job.dst, job.src, job.bytes);
}

void ConversionQueue::submit(Job job) {
  if (!background_) {
    run(job);
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return jobs_.size() < capacity_ || failure_; });
  if (failure_) std::rethrow_exception(failure_);
  jobs_.push_back(std::move(job));
  changed_.notify_all();
}

void ConversionQueue::convert(FrameConverter& converter, const AVFrame& frame, uint8_t* dst) {
  if (!background_) {
    converter.convert(frame, dst);
    return;
  }
  Job job;
  job.converter = &converter;
  job.dst = dst;
  job.frame = ff::make_frame();
  if (av_frame_ref(job.frame.get(), &frame) < 0) throw std::bad_alloc();  // a reference, not a copy
  submit(std::move(job));
}

void ConversionQueue::copy(const uint8_t* src, uint8_t* dst, size_t bytes) {
  Job job;
  job.src = src;
  job.dst = dst;
  job.bytes = bytes;
  submit(std::move(job));
}

void ConversionQueue::wait_idle() {
  if (!background_) return;
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return (jobs_.empty() && running_ == 0) || failure_; });
  if (failure_) std::rethrow_exception(failure_);
}

void ConversionQueue::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping and drained
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    ++running_;
    lock.unlock();
    try {
      run(job);
    } catch (...) {
      lock.lock();
      if (!failure_) failure_ = std::current_exception();
      --running_;
      jobs_.clear();
      changed_.notify_all();
      continue;
    }
    job.frame.reset();
    lock.lock();
    --running_;
    changed_.notify_all();
  }
}

}  // namespace sfvu::decode
