#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace sfvu::test {

std::string fixture(const std::string& rel) { return std::string(SFVU_FIXTURES_DIR) + "/" + rel; }
std::string video(const std::string& name) { return fixture("videos/" + name); }
std::string cli_path() { return SFVU_CLI; }

std::string scratch_dir(const std::string& name) {
  fs::path dir = fs::path(SFVU_TEST_WORK_DIR) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

CommandResult run_command(const std::string& command) {
  // stderr goes to a temp file so stdout can be read through the pipe without deadlock.
  std::string err_path = (fs::temp_directory_path() / ("sfvu_test_err_" + std::to_string(::getpid()) + "_" +
                                                       std::to_string(std::rand()))).string();
  std::string full = "(" + command + ") 2>" + shell_quote(err_path);
  CommandResult result;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.err = read_text_file(err_path);
  fs::remove(err_path);
  return result;
}

bool ffmpeg_cli_available() {
  static const bool ok = run_command("ffmpeg -version").exit_code == 0;
  return ok;
}

void run_ffmpeg(const std::string& args) {
  CommandResult r = run_command("ffmpeg -nostdin -v error -y " + args);
  ASSERT_EQ(r.exit_code, 0) << "ffmpeg " << args << "\n" << r.err;
}

std::vector<uint8_t> ffmpeg_rgb24(const std::string& path, const std::string& extra_args) {
  CommandResult r = run_command("ffmpeg -nostdin -v error -i " + shell_quote(path) + " " + extra_args +
                                " -f rawvideo -pix_fmt rgb24 -");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::vector<uint8_t>(r.out.begin(), r.out.end());
}

double mean_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  if (n == 0) return 0;
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += static_cast<uint64_t>(std::abs(int(a[i]) - int(b[i])));
  return double(sum) / double(n);
}

int max_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  int m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<uint8_t> read_binary_file(const std::string& path) {
  std::string s = read_text_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

CommandResult run_sfvu(const std::string& args) { return run_command(shell_quote(cli_path()) + " " + args); }

std::vector<std::string> nonempty_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace sfvu::test
