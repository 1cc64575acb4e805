// sfvu/base/log.h: the one logging seam of the libraries.
//
// Libraries never write to stdout/stderr themselves: they call log_message(), which hands the
// line to the installed sink. The default sink writes warnings and errors to stderr prefixed
// "sfvu: "; applications install their own (set_log_sink) to change the level or destination.
// FFmpeg's own av_log output is routed here too (see install_ffmpeg_log_bridge in decode).
// Thread safety: log_message and set_log_sink may be called from any thread.
#pragma once

#include <functional>
#include <string>

namespace sfvu {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogSink = std::function<void(LogLevel, const std::string& line)>;

/// The default sink: "sfvu: <level>: <line>" on stderr (for sinks that filter, then delegate).
void stderr_log_sink(LogLevel level, const std::string& line);
/// Replaces the sink; an empty function silences all logging.
void set_log_sink(LogSink sink);
/// The default sink's threshold (messages below it are dropped). Default kWarning.
void set_log_level(LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, const std::string& line);

/// Logs `line` at kWarning the first time `key` is seen in this process, then never again.
void warn_once(const std::string& key, const std::string& line);

}  // namespace sfvu
