// Private: an opened FFmpeg input (file, URL, device or memory) with its interrupt deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "ffmpeg_common.h"
#include "sfvu/decode/source.h"

namespace sfvu::decode {

/// Blocking FFmpeg calls poll this through AVIOInterruptCB: they abort once `stop` is set or
/// the deadline (re-armed before each blocking call) passes. Note [Never block forever].
struct InterruptState {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> deadline_ns{0};
  int64_t timeout_ns = 0;
  std::atomic<bool> fired{false};  ///< the last abort came from the deadline

  void arm() {
    auto now = std::chrono::steady_clock::now().time_since_epoch();
    deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() + timeout_ns;
  }
};

class MediaInput {
 public:
  /// Opens and reads stream info. Throws IoError / FormatError naming the source.
  MediaInput(const Source& source, const InputOptions& options);
  ~MediaInput();
  MediaInput(const MediaInput&) = delete;
  MediaInput& operator=(const MediaInput&) = delete;

  AVFormatContext* ctx() const { return fmt_.get(); }
  const std::string& name() const { return name_; }
  bool seekable() const { return seekable_; }
  /// Local file or memory buffer (as opposed to network protocol or capture device).
  bool local() const { return local_; }
  InterruptState& interrupt() { return interrupt_; }

 private:
  struct MemoryReader;
  std::string name_;
  InterruptState interrupt_;
  std::unique_ptr<MemoryReader> memory_;
  ff::AvioContextPtr avio_;      // must outlive fmt_ (declared first, destroyed last)
  ff::FormatContextPtr fmt_;
  bool seekable_ = false;
  bool local_ = false;
};

}  // namespace sfvu::decode
