#include "video_prefetch.h"

#include <deque>
#include <exception>
#include <optional>

#include "sfvu/base/error.h"

namespace sfvu::cli {

struct VideoPrefetcher::Feed {
  std::mutex m;
  std::condition_variable cv;
  bool started = false;   // the decoder published its outcome: cached, planned or failed
  bool finished = false;  // decoding ended (normally or not)
  bool abandoned = false; // the caller is done with this video (its decoder stops pushing)
  std::unique_ptr<grounding::VideoSession> cached;
  std::unique_ptr<pathways::TokenAssembler> assembler;
  int64_t expected_frames = -1;
  std::deque<decode::FrameChunk> chunks;
  decode::DecodeStats stats;
  std::exception_ptr error;
};

VideoPrefetcher::VideoPrefetcher(const grounding::VideoPipeline& pipeline, std::vector<std::string> paths, int jobs)
    : pipeline_(pipeline), paths_(std::move(paths)), jobs_(std::max(1, jobs)) {
  for (size_t i = 0; i < paths_.size(); ++i) feeds_.push_back(std::make_unique<Feed>());
  for (int j = 0; j < jobs_; ++j) threads_.emplace_back([this] { decoder_loop(); });
}

VideoPrefetcher::~VideoPrefetcher() {
  stop_ = true;
  // Taking each mutex once after setting the flag: a waiter that checked it just before cannot
  // miss the notification (it is either still before its check or already waiting).
  {
    std::lock_guard<std::mutex> lock(mutex_);
  }
  window_.notify_all();
  for (auto& f : feeds_) {
    std::lock_guard<std::mutex> lock(f->m);
    f->cv.notify_all();
  }
  for (auto& t : threads_) t.join();
}

void VideoPrefetcher::decoder_loop() {
  for (;;) {
    size_t i = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Within reach: the current video and the `jobs` after it.
      window_.wait(lock, [&] { return stop_ || next_ >= paths_.size() || next_ <= current_ + size_t(jobs_); });
      if (stop_ || next_ >= paths_.size()) return;
      i = next_++;
    }
    Feed& feed = *feeds_[i];
    decode_one(i, feed);
  }
}

void VideoPrefetcher::decode_one(size_t i, Feed& feed) {
  auto publish = [&](auto&& change) {
    std::lock_guard<std::mutex> lock(feed.m);
    change();
    feed.cv.notify_all();
  };
  const std::string& path = paths_[i];
  if (path.empty()) {
    publish([&] { feed.started = feed.finished = true; });
    return;
  }
  try {
    if (auto hit = pipeline_.open_cached(path)) {
      publish([&] {
        feed.cached = std::move(hit);
        feed.started = feed.finished = true;
      });
      return;
    }
    decode::VideoReader reader(decode::Source::path(path), pipeline_.options().decoder);
    auto assembler = std::make_unique<pathways::TokenAssembler>(pipeline_.encoder(), pipeline_.encoder().plan(reader));
    const auto requests = assembler->requests();
    int64_t expected = 0;
    for (const auto& r : requests) expected += reader.expected_frames(r.plan);
    publish([&] {
      feed.assembler = std::move(assembler);
      feed.expected_frames = expected;
      feed.started = true;
    });
    decode::DecodeStats stats = reader.decode(requests, [&](decode::FrameChunk&& c) {
      std::unique_lock<std::mutex> lock(feed.m);
      feed.cv.wait(lock, [&] { return stop_ || feed.abandoned || feed.chunks.size() < kQueueChunks; });
      if (stop_ || feed.abandoned) throw Cancelled(path + ": batch stopped");
      feed.chunks.push_back(std::move(c));
      feed.cv.notify_all();
    });
    publish([&] {
      feed.stats = stats;
      feed.finished = true;
    });
  } catch (...) {
    publish([&] {
      feed.error = std::current_exception();
      feed.started = feed.finished = true;
    });
  }
}

std::unique_ptr<grounding::VideoSession> VideoPrefetcher::open(size_t i, const ProgressCallback& progress) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (i >= feeds_.size() || i < current_) throw UsageError("VideoPrefetcher::open: video " + std::to_string(i) + " out of order");
    current_ = i;
  }
  window_.notify_all();
  Feed* feed = feeds_[i].get();
  // Whatever happens here, the video's memory is released and its decoder stops when this
  // call ends (the Feed itself lives until the destructor: its decoder may still hold it).
  struct Release {
    Feed* f;
    ~Release() {
      std::lock_guard<std::mutex> lock(f->m);
      f->abandoned = true;
      f->chunks.clear();
      f->cached.reset();
      f->assembler.reset();
      f->cv.notify_all();
    }
  } release{feed};
  std::unique_lock<std::mutex> lock(feed->m);
  feed->cv.wait(lock, [&] { return feed->started; });
  if (feed->cached) return std::move(feed->cached);
  if (!feed->assembler) {
    if (feed->error) std::rethrow_exception(feed->error);
    throw UsageError("VideoPrefetcher::open: video " + std::to_string(i) + " has no path");
  }
  pathways::TokenAssembler& assembler = *feed->assembler;
  int64_t frames = 0;
  for (;;) {
    feed->cv.wait(lock, [&] { return !feed->chunks.empty() || feed->finished; });
    if (feed->chunks.empty()) break;
    decode::FrameChunk chunk = std::move(feed->chunks.front());
    feed->chunks.pop_front();
    feed->cv.notify_all();  // room for the decoder
    lock.unlock();
    assembler.add(chunk);
    frames += chunk.size();
    if (progress && !progress(Progress{"encode", frames, feed->expected_frames, chunk.pts_seconds.empty() ? 0.0 : chunk.pts_seconds.back()}))
      throw Cancelled(paths_[i] + ": cancelled");
    lock.lock();
  }
  if (feed->error) std::rethrow_exception(feed->error);
  const decode::DecodeStats decode_stats = feed->stats;
  lock.unlock();
  pathways::EncodeStats stats;
  pathways::VideoTokens tokens = assembler.finish(decode_stats, &stats);
  return pipeline_.adopt(paths_[i], std::move(tokens), assembler.plan(), stats);
}

}  // namespace sfvu::cli
