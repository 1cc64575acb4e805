// Helpers shared by the sfvu test suites.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace sfvu::test {

/// tests/fixtures/<rel>
std::string fixture(const std::string& rel);
/// tests/fixtures/videos/<name>
std::string video(const std::string& name);
/// A fresh per-test scratch directory under the build tree (created; emptied if it existed).
std::string scratch_dir(const std::string& name);
/// Path of the built `sfvu` CLI.
std::string cli_path();

struct CommandResult {
  int exit_code = -1;  ///< -1 when killed by a signal
  int signal = 0;
  std::string out;     ///< stdout
  std::string err;     ///< stderr
};
/// Runs `command` through /bin/sh, capturing stdout and stderr.
CommandResult run_command(const std::string& command);
/// Single-quotes `s` for /bin/sh.
std::string shell_quote(const std::string& s);
/// Runs the built `sfvu` CLI with `args` (already shell-quoted where needed).
CommandResult run_sfvu(const std::string& args);
/// The non-empty lines of `text` (JSON-lines output).
std::vector<std::string> nonempty_lines(const std::string& text);

bool ffmpeg_cli_available();
/// Runs the ffmpeg CLI with `args` (after "ffmpeg -nostdin -v error -y"); ASSERT-fails on error.
void run_ffmpeg(const std::string& args);
/// `ffmpeg -i path -f rawvideo -pix_fmt rgb24 -` (auto-rotation as the CLI does by default),
/// plus `extra_args` before the output. Returns all frames back to back.
std::vector<uint8_t> ffmpeg_rgb24(const std::string& path, const std::string& extra_args = "");

/// Mean absolute difference of two equally sized byte buffers.
double mean_abs_diff(const uint8_t* a, const uint8_t* b, size_t n);
int max_abs_diff(const uint8_t* a, const uint8_t* b, size_t n);

std::string read_text_file(const std::string& path);

/// Runs `fn`, which must throw E; checks what() contains every string of `parts` (the file,
/// tensor or line an error must name).
template <typename E, typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning " << parts.at(0);
  } catch (const E& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << e.what() << "' does not mention '" << p << "'";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}
std::vector<uint8_t> read_binary_file(const std::string& path);

}  // namespace sfvu::test
