// The CLI contract of `sfvu stream` (live grounding) on the built binary with the bundled
// synth-tiny model: an MPEG-TS stream the ffmpeg CLI serves on 127.0.0.1 (updates, keys,
// pts, latency, drop counter), a server replaced mid-stream (reconnect, monotonic timeline),
// a file paced with --realtime (clean end, exit 0, snapshot PNG), a fast-forward input with a
// one-frame buffer (drops counted), SIGINT, and inputs that cannot be read (one error line).
// Only loopback addresses; every server is bounded in time and stops by itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <thread>

#include "support/cli_json.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using json = nlohmann::ordered_json;  // keeps key order: the contract fixes it
using test::shell_quote;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kUpdateKeys = {"pts_seconds", "wall_time", "latency_ms", "dropped", "saliency",
                                              "active"};

std::string model() { return shell_quote(test::fixture("../../data/models/synth-tiny")); }
std::string queries() { return "--query 'a red circle appears' --query 'the square moves'"; }

bool is_update(const json& j) { return j.contains("saliency"); }
bool is_event(const json& j, const std::string& name) { return j.contains("event") && j["event"] == name; }

// Updates must carry the contract keys in order, a positive finite latency and a counter.
void check_update(const json& u) {
  EXPECT_EQ(test::json_keys(u), kUpdateKeys) << u.dump();
  const double latency = u["latency_ms"].get<double>();
  EXPECT_TRUE(std::isfinite(latency)) << u.dump();
  EXPECT_GT(latency, 0.0) << u.dump();
  EXPECT_GE(u["dropped"].get<int64_t>(), 0);
  EXPECT_GT(u["wall_time"].get<double>(), 1.6e9);  // Unix seconds
  ASSERT_EQ(u["saliency"].size(), 2u) << u.dump();
  for (const auto& [q, s] : u["saliency"].items()) {
    EXPECT_GT(s.get<double>(), 0.0) << q;  // the learned head's sigmoid
    EXPECT_LT(s.get<double>(), 1.0) << q;
  }
  EXPECT_TRUE(u["active"].is_array());
}

std::vector<json> updates_of(const std::vector<json>& lines) {
  std::vector<json> out;
  for (const auto& j : lines)
    if (is_update(j)) out.push_back(j);
  return out;
}

void expect_increasing_pts(const std::vector<json>& updates) {
  for (size_t i = 1; i < updates.size(); ++i)
    EXPECT_GT(updates[i]["pts_seconds"].get<double>(), updates[i - 1]["pts_seconds"].get<double>()) << "update " << i;
}

// A port that was free a moment ago (bound to port 0, then released).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// True once some socket listens on `port` (read from /proc/net/tcp: connecting to check would
// use up the ffmpeg server's one client).
bool listening(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string slot, local, remote, state;
    s >> slot >> local >> remote >> state;
    const size_t colon = local.find(':');
    if (colon != std::string::npos && state == "0A" && std::stoi(local.substr(colon + 1), nullptr, 16) == port)
      return true;
  }
  return false;
}

bool wait_listening(int port, double seconds) {
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    if (listening(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// The ffmpeg CLI serving `seconds` of a 25 fps test pattern at real time as MPEG-TS to the
// first client on tcp://127.0.0.1:port; gives up after 15 s without one, killed after 30 s.
std::string server_command(int port, int seconds) {
  return "timeout 30 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=320x240:rate=25 -t " +
         std::to_string(seconds) + " -q:v 5 -f mpegts " +
         shell_quote("tcp://127.0.0.1:" + std::to_string(port) + "?listen=1&listen_timeout=15000");
}

bool have_tools() { return test::ffmpeg_cli_available() && test::run_command("command -v timeout").exit_code == 0; }

TEST(CliStream, FollowsALoopbackStream) {
  if (!have_tools()) GTEST_SKIP() << "ffmpeg CLI or timeout not found";
  const int port = free_port();
  ASSERT_GT(port, 0);
  test::CommandResult server_result;
  std::thread server([&] { server_result = test::run_command(server_command(port, 12)); });
  ASSERT_TRUE(wait_listening(port, 10)) << "the ffmpeg server did not start";
  auto r = test::run_sfvu("stream --model " + model() + " --input tcp://127.0.0.1:" + std::to_string(port) + " " +
                          queries() + " --max-seconds 6 --timeout 5");
  server.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = test::json_lines<json>(r.out);
  const auto updates = updates_of(lines);
  // ~5 s of stream after connecting at one update per 0.5 s; at least half of them.
  ASSERT_GE(updates.size(), 5u) << r.out << r.err;
  for (const auto& u : updates) check_update(u);
  expect_increasing_pts(updates);
  EXPECT_LT(updates.front()["pts_seconds"].get<double>(), 1.0);
  EXPECT_EQ(updates.front()["saliency"].begin().key(), "a red circle appears");  // query order kept
  // Events are well-formed (keys in contract order).
  for (const auto& j : lines) {
    if (!j.contains("event")) continue;
    if (j["event"] == "start" || j["event"] == "end") {
      const auto k = test::json_keys(j);
      ASSERT_GE(k.size(), 3u);
      EXPECT_EQ(std::vector<std::string>(k.begin(), k.begin() + 3),
                (std::vector<std::string>{"event", "query", "pts_seconds"}));
    }
  }
  EXPECT_NE(r.err.find("latency p50"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("p95"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dropped"), std::string::npos) << r.err;
}

TEST(CliStream, ReconnectsWhenTheServerIsReplacedAndTheTimelineGoesOn) {
  if (!have_tools()) GTEST_SKIP() << "ffmpeg CLI or timeout not found";
  const int port = free_port();
  ASSERT_GT(port, 0);
  std::thread servers([&] {  // the first server ends after 4 s; a second one takes the port
    test::run_command(server_command(port, 4));
    test::run_command(server_command(port, 10));
  });
  ASSERT_TRUE(wait_listening(port, 10)) << "the ffmpeg server did not start";
  const std::string dir = test::scratch_dir("cli_stream_reconnect");
  auto r = test::run_sfvu("stream --model " + model() + " --input tcp://127.0.0.1:" + std::to_string(port) + " " +
                          queries() + " --max-seconds 10 --timeout 5 --reconnect-delay 0.25 --jsonl " +
                          shell_quote(dir + "/out.jsonl"));
  servers.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << "--jsonl: nothing on stdout";
  const auto lines = test::json_lines<json>(test::read_text_file(dir + "/out.jsonl"));
  size_t lost = lines.size(), reconnected = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (is_event(lines[i], "source_lost") && lost == lines.size()) lost = i;
    if (is_event(lines[i], "reconnect")) {
      EXPECT_EQ(lines[i]["attempt"].get<int>() >= 1, true);
      EXPECT_TRUE(lines[i].contains("wall_time"));
      if (lines[i]["ok"] == true && reconnected == lines.size()) reconnected = i;
    }
  }
  ASSERT_LT(lost, lines.size()) << "no source_lost line:\n" << r.err;
  ASSERT_LT(reconnected, lines.size()) << "no successful reconnect:\n" << r.err;
  EXPECT_LT(lost, reconnected);
  std::vector<json> before, after;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_update(lines[i])) continue;
    check_update(lines[i]);
    (i < lost ? before : after).push_back(lines[i]);
  }
  ASSERT_GE(before.size(), 3u);
  ASSERT_GE(after.size(), 3u) << "updates did not continue after the reconnect";
  std::vector<json> all = before;
  all.insert(all.end(), after.begin(), after.end());
  expect_increasing_pts(all);  // no jump back to 0 on the new connection
  // The outage is on the timeline: stream time advanced across it about as the wall clock did
  // (not merely "later": frames restarting at 0 would be dropped as stale until they caught up).
  const double pts_gap = after.front()["pts_seconds"].get<double>() - before.back()["pts_seconds"].get<double>();
  const double wall_gap = after.front()["wall_time"].get<double>() - before.back()["wall_time"].get<double>();
  EXPECT_NEAR(pts_gap, wall_gap, 1.5) << "pts gap " << pts_gap << " s, wall gap " << wall_gap << " s";
  EXPECT_NE(r.err.find("1 reconnects"), std::string::npos) << r.err;
}

TEST(CliStream, GivesUpAfterReconnectMaxAttempts) {
  if (!have_tools()) GTEST_SKIP() << "ffmpeg CLI or timeout not found";
  const int port = free_port();
  ASSERT_GT(port, 0);
  std::thread server([&] { test::run_command(server_command(port, 2)); });  // then nobody listens
  ASSERT_TRUE(wait_listening(port, 10)) << "the ffmpeg server did not start";
  auto r = test::run_sfvu("stream --model " + model() + " --input tcp://127.0.0.1:" + std::to_string(port) + " " +
                          queries() + " --max-seconds 20 --timeout 5 --reconnect-max 2 --reconnect-delay 0.1");
  server.join();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto err = test::nonempty_lines(r.err);
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.back().rfind("sfvu: error: tcp://127.0.0.1:" + std::to_string(port) + ": source lost", 0), 0u)
      << err.back();
  EXPECT_NE(err.back().find("gave up after 2 reconnect attempts"), std::string::npos) << err.back();
  const auto lines = test::json_lines<json>(r.out);
  std::vector<int> attempts;
  for (const auto& j : lines)
    if (is_event(j, "reconnect")) {
      EXPECT_EQ(j["ok"], false);
      EXPECT_FALSE(j["error"].get<std::string>().empty());
      attempts.push_back(j["attempt"].get<int>());
    }
  EXPECT_EQ(attempts, (std::vector<int>{1, 2}));
  EXPECT_FALSE(updates_of(lines).empty());
}

// A short test file, made once by the ffmpeg CLI.
std::string three_second_file() {
  static const std::string path = [] {
    const std::string dir = test::scratch_dir("cli_stream_file");
    test::run_ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 3 -c:v mpeg4 -q:v 5 " +
                     shell_quote(dir + "/three.mp4"));
    return dir + "/three.mp4";
  }();
  return path;
}

TEST(CliStream, RealtimeFileEndsCleanlyWithASnapshot) {
  if (!test::ffmpeg_cli_available()) GTEST_SKIP() << "ffmpeg CLI not found";
  const std::string file = three_second_file();
  const std::string png = test::scratch_dir("cli_stream_snapshot") + "/view.png";
  const auto start = Clock::now();
  auto r = test::run_sfvu("stream --model " + model() + " --input " + shell_quote(file) + " " + queries() +
                          " --realtime --buffer-frames 64 --threshold 0.0 --threshold 1.0 --snapshot " +
                          shell_quote(png));
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(wall, 2.5) << "--realtime did not pace a 3 s file";
  const auto lines = test::json_lines<json>(r.out);
  const auto updates = updates_of(lines);
  ASSERT_GE(updates.size(), 5u) << r.out;  // 3 s at one per 0.5 s, plus the final one
  for (const auto& u : updates) check_update(u);
  expect_increasing_pts(updates);
  EXPECT_GE(updates.back()["pts_seconds"].get<double>(), 2.75);  // the end of the file is reached
  EXPECT_EQ(updates.back()["dropped"].get<int64_t>(), 0);
  // Threshold 0 makes query 0 active at once; threshold 1 never fires (a sigmoid). The end of
  // the file closes what is open: start ... end, in that order.
  std::vector<std::string> ev;
  for (const auto& j : lines)
    if (j.contains("event")) ev.push_back(j["event"].get<std::string>() + ":" + j["query"].get<std::string>());
  EXPECT_EQ(ev, (std::vector<std::string>{"start:a red circle appears", "end:a red circle appears"}));
  EXPECT_EQ(updates.front()["active"], json::array({"a red circle appears"}));
  EXPECT_EQ(lines.back()["event"], "end");
  // The snapshot: the view's layout with the video in it (the test pattern is colourful).
  cv::Mat img = cv::imread(png, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty()) << png;
  EXPECT_EQ(img.cols, 960);
  EXPECT_EQ(img.rows, 40 + 540 + 2 * 74 + 6);
  cv::Mat video = img(cv::Rect(0, 40, 960, 540));
  cv::Scalar mean = cv::mean(video);
  EXPECT_GT(mean[0] + mean[1] + mean[2], 60.0) << "the video area is (nearly) black";
  const cv::Vec3b header = img.at<cv::Vec3b>(5, 480);
  EXPECT_GT(header[0], 200);  // light header panel
}

TEST(CliStream, TinyBufferOnAFastForwardInputCountsDrops) {
  // A lavfi source is generated as fast as possible: capture outruns inference by far (720p, so
  // that even a fast capture leaves inference time for some updates before the 60 s end).
  auto r = test::run_sfvu("stream --model " + model() +
                          " --input lavfi:testsrc2=size=1280x720:rate=25:duration=60 " + queries() +
                          " --buffer-frames 1 --update-every 0.25");
  ASSERT_EQ(r.exit_code, 0) << r.err;  // the source ended: a clean end
  const auto updates = updates_of(test::json_lines<json>(r.out));
  ASSERT_FALSE(updates.empty());
  for (const auto& u : updates) check_update(u);
  expect_increasing_pts(updates);
  EXPECT_GT(updates.back()["dropped"].get<int64_t>(), 0) << r.err;
  for (size_t i = 1; i < updates.size(); ++i)
    EXPECT_GE(updates[i]["dropped"].get<int64_t>(), updates[i - 1]["dropped"].get<int64_t>());
  // One warning, however many drops.
  const size_t first = r.err.find("falling behind");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("falling behind", first + 1), std::string::npos) << r.err;
}

TEST(CliStream, SigintStopsCleanly) {
  const std::string cmd = shell_quote(test::cli_path()) + " stream --model " + model() +
                          " --input lavfi:testsrc2=size=160x120:rate=25 " + queries() +
                          " & pid=$!; sleep 3; kill -INT $pid; wait $pid";
  auto r = test::run_command(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(updates_of(test::json_lines<json>(r.out)).empty()) << r.err;
  EXPECT_NE(r.err.find("latency p50"), std::string::npos) << r.err;  // the summary still comes
}

void expect_one_error_line(const test::CommandResult& r, int code, const std::string& mention) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  const auto lines = test::nonempty_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("sfvu: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(mention), std::string::npos) << lines[0];
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliStream, UnreadableInputsAreOneErrorLine) {
  const std::string dir = test::scratch_dir("cli_stream_errors");
  expect_one_error_line(test::run_sfvu("stream --model " + model() + " --input " + shell_quote(dir + "/missing.mp4") +
                                       " --query x"),
                        1, dir + "/missing.mp4");
  const int port = free_port();  // nobody listens: refused at once, not retried
  const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  const auto start = Clock::now();
  expect_one_error_line(test::run_sfvu("stream --model " + model() + " --input " + url + " --query x --timeout 2"), 1,
                        "127.0.0.1:" + std::to_string(port));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  expect_one_error_line(test::run_sfvu("stream --model " + shell_quote(dir + "/no-model") +
                                       " --input lavfi:testsrc2 --query x"),
                        1, dir + "/no-model");
  expect_one_error_line(test::run_sfvu("stream --model " + model() + " --input lavfi:testsrc2 --query x --query x"), 2,
                        "twice");
  expect_one_error_line(test::run_sfvu("stream --model " + model() +
                                       " --input lavfi:testsrc2 --query x --query y --threshold 1 --threshold 2 "
                                       "--threshold 3"),
                        2, "3 thresholds");
  expect_one_error_line(test::run_command("env -u DISPLAY -u WAYLAND_DISPLAY " + shell_quote(test::cli_path()) +
                                          " stream --model " + model() + " --input lavfi:testsrc2 --query x --window"),
                        2, "--window needs a display");
}

// A server that accepts the connection and never sends: --timeout bounds the open.
TEST(CliStream, SilentServerTimesOut) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody writes
  const std::string url = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto r = test::run_sfvu("stream --model " + model() + " --input " + url + " --query x --timeout 1");
  ::close(fd);
  expect_one_error_line(r, 1, url.substr(6));
}

}  // namespace
}  // namespace sfvu
