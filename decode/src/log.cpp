#include "sfvu/base/log.h"

#include <atomic>
#include <iostream>
#include <mutex>
#include <set>

namespace sfvu {
namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

std::atomic<int>& level_ref() {
  static std::atomic<int> level{static_cast<int>(LogLevel::kWarning)};
  return level;
}

LogSink& sink_ref() {
  static LogSink sink = stderr_log_sink;
  return sink;
}

}  // namespace

void stderr_log_sink(LogLevel level, const std::string& line) {
  static const char* kNames[] = {"debug", "info", "warning", "error"};
  std::cerr << "sfvu: " << kNames[static_cast<int>(level)] << ": " << line << '\n';
}

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink_ref() = std::move(sink);
}

void set_log_level(LogLevel level) { level_ref() = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(level_ref().load()); }

void log_message(LogLevel level, const std::string& line) {
  if (static_cast<int>(level) < level_ref().load()) return;
  std::lock_guard<std::mutex> lock(sink_mutex());
  if (sink_ref()) sink_ref()(level, line);
}

void warn_once(const std::string& key, const std::string& line) {
  static std::mutex m;
  static std::set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(m);
    if (!seen.insert(key).second) return;
  }
  log_message(LogLevel::kWarning, line);
}

}  // namespace sfvu
