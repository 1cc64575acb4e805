#include <cstdio>
#include <mutex>
#include <string>

#include "ffmpeg_common.h"
#include "sfvu/base/log.h"
#include "sfvu/decode/video_reader.h"

namespace sfvu::decode {
namespace {

// av_log lines arrive in pieces; assemble per thread and forward whole lines.
void av_log_to_sink(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  thread_local std::string pending;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof(line), &print_prefix);
  pending += line;
  if (pending.empty() || pending.back() != '\n') return;
  pending.pop_back();
  LogLevel ours = level <= AV_LOG_ERROR ? LogLevel::kError : LogLevel::kWarning;
  // FFmpeg's decoders report recoverable stream damage at error level; sfvu counts it in
  // DecodeStats, so log it as a warning (the caller decides whether it was fatal).
  if (ours == LogLevel::kError) ours = LogLevel::kWarning;
  log_message(ours, "ffmpeg: " + pending);
  pending.clear();
}

}  // namespace

void install_ffmpeg_log_bridge() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(av_log_to_sink); });
}

std::string ffmpeg_error_text(int averror) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(averror, buf, sizeof(buf));
  return buf;
}

}  // namespace sfvu::decode
