#include <gtest/gtest.h>

#include <vector>

#include "sfvu/base/log.h"

namespace sfvu {
namespace {

struct Captured {
  std::vector<std::pair<LogLevel, std::string>> lines;
};

TEST(Log, SinkReceivesLinesAtOrAboveLevel) {
  Captured c;
  set_log_sink([&](LogLevel l, const std::string& s) { c.lines.emplace_back(l, s); });
  set_log_level(LogLevel::kWarning);
  log_message(LogLevel::kInfo, "hidden");
  log_message(LogLevel::kWarning, "shown");
  log_message(LogLevel::kError, "also shown");
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0].second, "shown");
  EXPECT_EQ(c.lines[1].first, LogLevel::kError);
  set_log_level(LogLevel::kDebug);
  log_message(LogLevel::kDebug, "debug now");
  EXPECT_EQ(c.lines.size(), 3u);
  set_log_level(LogLevel::kWarning);
  set_log_sink(nullptr);
  log_message(LogLevel::kError, "into the void");  // silenced, must not crash
  EXPECT_EQ(c.lines.size(), 3u);
}

TEST(Log, WarnOnceWarnsOnce) {
  Captured c;
  set_log_sink([&](LogLevel l, const std::string& s) { c.lines.emplace_back(l, s); });
  warn_once("k1", "first");
  warn_once("k1", "second");
  warn_once("k2", "other");
  set_log_sink(nullptr);
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0].second, "first");
  EXPECT_EQ(c.lines[1].second, "other");
}

}  // namespace
}  // namespace sfvu
