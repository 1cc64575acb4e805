// Live (forward-only) inputs: an MPEG-TS stream the ffmpeg CLI serves on 127.0.0.1, a port
// nobody listens on, a server that accepts and never sends, and a libavdevice lavfi source.
// Only loopback addresses; every server and wait is bounded in time and stops by itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"
#include "support/test_support.h"

namespace sfvu::decode {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port; closed on destruction.
class LoopbackListener {
 public:
  explicit LoopbackListener(bool listen_now) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) { close(); return; }
    socklen_t len = sizeof(addr);
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) { close(); return; }
    port_ = ntohs(addr.sin_port);
    if (listen_now && ::listen(fd_, 4) != 0) { close(); return; }
  }
  ~LoopbackListener() { close(); }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int port() const { return port_; }
  bool ok() const { return fd_ >= 0 && port_ > 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port that was free a moment ago (bound to port 0, then released).
int free_port() {
  LoopbackListener probe(false);
  return probe.ok() ? probe.port() : 0;
}

std::string tcp_url(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

TEST(LiveInput, FollowsAnMpegTsStreamServedByTheFfmpegCli) {
  if (!test::ffmpeg_cli_available()) GTEST_SKIP() << "ffmpeg CLI not found";
  const int port = free_port();
  ASSERT_GT(port, 0);
  // 3 s of 25 fps at real time (-re). The server gives up after 15 s without a client and is
  // killed after 25 s in any case.
  const bool have_timeout = test::run_command("command -v timeout").exit_code == 0;
  const std::string server_cmd =
      std::string(have_timeout ? "timeout 25 " : "") +
      "ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=160x120:rate=25 -t 3 "
      "-c:v libx264 -g 25 -f mpegts " +
      test::shell_quote(tcp_url(port) + "?listen=1&listen_timeout=15000");
  test::CommandResult server_result;
  std::thread server([&] { server_result = test::run_command(server_cmd); });

  DecoderOptions options;
  options.input.timeout_seconds = 5;
  std::unique_ptr<VideoReader> reader;
  const auto start = Clock::now();
  std::string last_error;
  while (!reader && seconds_since(start) < 5.0) {
    try {
      reader = std::make_unique<VideoReader>(Source::path(tcp_url(port)), options);
    } catch (const IoError& e) {  // server not listening yet
      last_error = e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (!reader) {
    server.join();
    FAIL() << "could not open " << tcp_url(port) << ": " << last_error << "\nserver: " << server_result.err;
  }

  EXPECT_FALSE(reader->info().seekable);
  EXPECT_FALSE(reader->info().indexed);
  EXPECT_EQ(reader->index(), nullptr);
  EXPECT_EQ(reader->info().video.width, 160);
  EXPECT_EQ(reader->info().video.height, 120);
  EXPECT_EQ(reader->info().video.codec, "h264");

  ReadResult r = reader->read({StreamRequest{SamplingPlan::at_fps(5), FrameFormat::native()}});
  server.join();
  EXPECT_EQ(server_result.exit_code, 0) << server_result.err;

  const FrameBatch& b = r.streams[0];
  // 3 s at 5 fps: targets 0, 0.2, ..., 2.8 -> 15 (a few may be lost at the stream's edges).
  EXPECT_GE(b.size(), 12);
  EXPECT_LE(b.size(), 16);
  ASSERT_GT(b.size(), 0);
  EXPECT_EQ(b.width, 160);
  EXPECT_EQ(b.height, 120);
  EXPECT_LT(b.pts_seconds[0], 0.25);
  EXPECT_GE(b.pts_seconds[0], 0.0);
  for (int64_t i = 1; i < b.size(); ++i) {
    EXPECT_GT(b.pts_seconds[size_t(i)], b.pts_seconds[size_t(i - 1)]) << "frame " << i;
    EXPECT_NEAR(b.pts_seconds[size_t(i)] - b.pts_seconds[size_t(i - 1)], 0.2, 0.05) << "frame " << i;
  }
  EXPECT_EQ(r.stats.seeks, 0);
  EXPECT_EQ(r.stats.frames_returned, b.size());
  EXPECT_GE(r.stats.frames_decoded, 50);  // forward-only: decodes through (75 frames sent)
  EXPECT_GE(r.stats.packets_read, r.stats.frames_decoded);
  EXPECT_LE(r.stats.frames_converted, b.size());
  EXPECT_EQ(r.stats.decode_errors, 0);
}

TEST(LiveInput, DeadPortIsIoErrorQuickly) {
  const int port = free_port();
  ASSERT_GT(port, 0);
  DecoderOptions options;
  options.input.timeout_seconds = 1;
  const auto start = Clock::now();
  try {
    VideoReader reader(Source::path(tcp_url(port)), options);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  }
  EXPECT_LT(seconds_since(start), 5.0);
}

// Outcome of opening and reading an input on a worker thread.
struct Attempt {
  bool threw_io_error = false;
  std::string other_error;
  int64_t frames = -1;
};

TEST(LiveInput, SilentServerTimesOutInsteadOfHanging) {
  LoopbackListener listener(true);  // the kernel completes the handshake; nobody accepts or writes
  ASSERT_TRUE(listener.ok());
  const std::string url = tcp_url(listener.port());

  auto done = std::make_shared<std::promise<Attempt>>();
  std::future<Attempt> result = done->get_future();
  std::thread worker([done, url] {
    Attempt a;
    try {
      DecoderOptions options;
      options.input.timeout_seconds = 1;
      VideoReader reader(Source::path(url), options);
      ReadResult r = reader.read({StreamRequest{SamplingPlan::at_fps(5), FrameFormat::native()}});
      a.frames = r.streams[0].size();
    } catch (const IoError&) {
      a.threw_io_error = true;
    } catch (const std::exception& e) {
      a.other_error = e.what();
    }
    done->set_value(a);
  });

  const auto start = Clock::now();
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "no return 10 s after opening a silent server with timeout_seconds = 1";
    listener.close();  // resets the pending connection, which should unblock the reader
    if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      worker.detach();  // still stuck: leave it rather than hang the suite
      return;
    }
  }
  worker.join();
  const Attempt a = result.get();
  EXPECT_LT(seconds_since(start), 6.0);
  EXPECT_TRUE(a.other_error.empty()) << "expected IoError or no frames, got: " << a.other_error;
  EXPECT_TRUE(a.threw_io_error || a.frames == 0) << "frames: " << a.frames;
}

TEST(LiveInput, LavfiDeviceSourceYieldsEveryFrame) {
  VideoReader reader(Source::path("lavfi:testsrc2=size=64x48:rate=10:duration=1"));
  EXPECT_FALSE(reader.info().indexed);
  EXPECT_EQ(reader.info().video.width, 64);
  EXPECT_EQ(reader.info().video.height, 48);
  ReadResult r = reader.read({StreamRequest{SamplingPlan::all(), FrameFormat::native()}});
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), 10);
  EXPECT_EQ(b.width, 64);
  EXPECT_EQ(b.height, 48);
  for (int64_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b.indices[size_t(i)], i);
    EXPECT_NEAR(b.pts_seconds[size_t(i)], 0.1 * double(i), 1e-6);
  }
}

TEST(LiveInput, LavfiDeviceSourceAtFps) {
  VideoReader reader(Source::path("lavfi:testsrc2=size=64x48:rate=10:duration=1"));
  ReadResult r = reader.read({StreamRequest{SamplingPlan::at_fps(10), FrameFormat::square(32)}});
  const FrameBatch& b = r.streams[0];
  EXPECT_EQ(b.size(), 10);
  EXPECT_EQ(b.width, 32);
  EXPECT_EQ(b.height, 32);
  // t_k = k / 10 on a 10 fps source: frame k each time, no duplicates.
  for (int64_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b.indices[size_t(i)], i);
    EXPECT_NEAR(b.pts_seconds[size_t(i)], 0.1 * double(i), 1e-6);
  }
}

}  // namespace
}  // namespace sfvu::decode
