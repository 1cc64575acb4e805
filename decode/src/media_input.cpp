#include "media_input.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"

extern "C" {
#include <libavdevice/avdevice.h>
}

namespace sfvu::decode {
namespace {

// Note [Never block forever]: network and device reads can stall indefinitely (a dead RTSP
// server, an unplugged camera). Every blocking call is bounded by the interrupt deadline, and
// network protocols also get FFmpeg's own rw_timeout, so a stall ends as an error or EOF.
int interrupt_cb(void* opaque) {
  auto* s = static_cast<InterruptState*>(opaque);
  if (s->stop.load()) return 1;
  if (s->timeout_ns <= 0) return 0;
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now > s->deadline_ns.load()) {
    s->fired = true;
    return 1;
  }
  return 0;
}

}  // namespace

struct MediaInput::MemoryReader {
  std::shared_ptr<const std::vector<uint8_t>> bytes;
  int64_t pos = 0;

  static int read(void* opaque, uint8_t* buf, int size) {
    auto* m = static_cast<MemoryReader*>(opaque);
    int64_t left = static_cast<int64_t>(m->bytes->size()) - m->pos;
    if (left <= 0) return AVERROR_EOF;
    int n = static_cast<int>(std::min<int64_t>(left, size));
    std::memcpy(buf, m->bytes->data() + m->pos, static_cast<size_t>(n));
    m->pos += n;
    return n;
  }
  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* m = static_cast<MemoryReader*>(opaque);
    int64_t size = static_cast<int64_t>(m->bytes->size());
    switch (whence & ~AVSEEK_FORCE) {
      case AVSEEK_SIZE: return size;
      case SEEK_SET: m->pos = offset; break;
      case SEEK_CUR: m->pos += offset; break;
      case SEEK_END: m->pos = size + offset; break;
      default: return AVERROR(EINVAL);
    }
    m->pos = std::clamp<int64_t>(m->pos, 0, size);
    return m->pos;
  }
};

MediaInput::MediaInput(const Source& source, const InputOptions& options) : name_(source.location) {
  static std::once_flag devices_once;
  std::call_once(devices_once, [] { avdevice_register_all(); });
  install_ffmpeg_log_bridge();

  interrupt_.timeout_ns = static_cast<int64_t>(options.timeout_seconds * 1e9);
  std::string url = source.location;
  const AVInputFormat* forced = nullptr;
  if (!options.format.empty()) {
    forced = av_find_input_format(options.format.c_str());
    if (!forced) throw UsageError(name_ + ": unknown input format '" + options.format + "'");
    if (url.rfind(options.format + ":", 0) == 0) url = url.substr(options.format.size() + 1);
  } else if (!source.is_memory()) {
    // "/dev/videoN" and "FORMAT:TARGET" (e.g. v4l2:/dev/video0, lavfi:testsrc2) name devices.
    const char* protocol = avio_find_protocol_name(url.c_str());
    size_t colon = url.find(':');
    if (url.rfind("/dev/video", 0) == 0) {
      forced = av_find_input_format("v4l2");
    } else if (!protocol && colon != std::string::npos && colon > 1) {
      forced = av_find_input_format(url.substr(0, colon).c_str());
      if (forced) url = url.substr(colon + 1);
    }
  }

  bool network = false;
  if (source.is_memory()) {
    local_ = true;
  } else if (!forced || !(forced->flags & AVFMT_NOFILE)) {
    const char* protocol = avio_find_protocol_name(url.c_str());
    local_ = protocol && (std::strcmp(protocol, "file") == 0 || std::strcmp(protocol, "pipe") == 0);
    network = !local_;
    if (!protocol && !forced)
      throw IoError(name_ + ": no FFmpeg protocol can read this location");
    if (local_ && std::strcmp(protocol, "file") == 0) {
      std::error_code ec;
      std::filesystem::path p(url.rfind("file:", 0) == 0 ? url.substr(5) : url);
      if (!std::filesystem::exists(p, ec)) throw IoError(name_ + ": no such file");
      if (std::filesystem::is_regular_file(p, ec) && std::filesystem::file_size(p, ec) == 0)
        throw FormatError(name_ + ": empty file (0 bytes)");
    }
  }

  ff::Dict opts;
  for (const auto& [k, v] : options.demuxer_options) opts.set(k, v);
  if (network && options.timeout_seconds > 0) {
    std::string us = std::to_string(static_cast<int64_t>(options.timeout_seconds * 1e6));
    opts.set("rw_timeout", us);
    if (url.rfind("rtsp", 0) == 0) opts.set("timeout", us);  // RTSP socket timeout (us)
  }

  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw Error(name_ + ": out of memory");
  raw->interrupt_callback.callback = interrupt_cb;
  raw->interrupt_callback.opaque = &interrupt_;
  if (source.is_memory()) {
    if (source.bytes->empty()) {
      avformat_free_context(raw);
      throw FormatError(name_ + ": empty buffer (0 bytes)");
    }
    memory_ = std::make_unique<MemoryReader>();
    memory_->bytes = source.bytes;
    constexpr int kBufferSize = 1 << 16;
    auto* buffer = static_cast<uint8_t*>(av_malloc(kBufferSize));
    avio_.reset(avio_alloc_context(buffer, kBufferSize, 0, memory_.get(), &MemoryReader::read, nullptr,
                                   &MemoryReader::seek));
    if (!avio_) {
      av_free(buffer);
      avformat_free_context(raw);
      throw Error(name_ + ": out of memory");
    }
    raw->pb = avio_.get();
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  }

  interrupt_.arm();
  int ret = avformat_open_input(&raw, url.c_str(), forced, opts.ptr());  // frees raw on failure
  if (ret < 0) {
    std::string why = interrupt_.fired ? "timed out after " + std::to_string(options.timeout_seconds) + " s"
                                       : ffmpeg_error_text(ret);
    if (ret == AVERROR_INVALIDDATA)
      throw FormatError(name_ + ": not a readable media file: " + why);
    throw IoError(name_ + ": cannot open: " + why);
  }
  fmt_.reset(raw);
  interrupt_.arm();
  ret = avformat_find_stream_info(fmt_.get(), nullptr);
  if (ret < 0)
    throw FormatError(name_ + ": cannot read stream information: " +
                      (interrupt_.fired ? std::string("timed out") : ffmpeg_error_text(ret)));
  seekable_ = fmt_->pb ? (fmt_->pb->seekable & AVIO_SEEKABLE_NORMAL) != 0 : false;
  if (fmt_->iformat->flags & AVFMT_NOFILE) seekable_ = false;  // capture devices
}

MediaInput::~MediaInput() = default;

}  // namespace sfvu::decode
