// VideoWriter: exact frame count and duration read back by our reader, errors naming the file,
// and no half-written mp4 under the final name.
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/decode/video_writer.h"
#include "support/test_support.h"

namespace sfvu::decode {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> gradient(int width, int height, int k) {
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 4 + k);
      p[1] = static_cast<uint8_t>(y * 4);
      p[2] = 128;
    }
  return rgb;
}

void write_video(const std::string& path, int n, int fps_num, int fps_den) {
  VideoWriter w(path, 64, 48, fps_num, fps_den);
  for (int k = 0; k < n; ++k) w.write(gradient(64, 48, k).data());
  w.finish();
  EXPECT_EQ(w.frames_written(), n);
}

TEST(VideoWriter, FrameCountAndDurationAreExact) {
  const std::string dir = test::scratch_dir("video_writer_exact");
  for (auto [num, den] : {std::pair{24, 1}, std::pair{30000, 1001}}) {
    const std::string path = dir + "/v" + std::to_string(num) + ".mp4";
    write_video(path, 61, num, den);
    EXPECT_FALSE(fs::exists(path + ".part"));
    VideoReader reader(Source::path(path));
    EXPECT_EQ(reader.info().video.codec, "h264");
    EXPECT_EQ(reader.info().video.width, 64);
    EXPECT_EQ(reader.info().video.height, 48);
    EXPECT_EQ(reader.info().video.n_frames, 61);
    EXPECT_NEAR(reader.info().duration_seconds, 61.0 * den / num, 1e-6);
    const auto r = reader.read({{SamplingPlan::all(), FrameFormat::native()}});
    ASSERT_EQ(r.streams[0].size(), 61);
    const auto first = gradient(64, 48, 0);
    EXPECT_LT(test::mean_abs_diff(first.data(), r.streams[0].frame(0), first.size()), 3.0);
  }
}

TEST(VideoWriter, ErrorsNameTheFile) {
  const std::string dir = test::scratch_dir("video_writer_errors");
  test::expect_error<UsageError>([&] { VideoWriter(dir + "/odd.mp4", 63, 48, 24, 1); }, {"odd.mp4", "63x48"});
  test::expect_error<UsageError>([&] { VideoWriter(dir + "/fps.mp4", 64, 48, 0, 1); }, {"fps.mp4"});
  test::expect_error<IoError>([&] { VideoWriter(dir + "/missing/dir/a.mp4", 64, 48, 24, 1); }, {"missing/dir/a.mp4"});
  VideoWriterOptions bad;
  bad.codec = "no_such_encoder";
  test::expect_error<FormatError>([&] { VideoWriter(dir + "/c.mp4", 64, 48, 24, 1, bad); }, {"c.mp4", "no_such_encoder"});
  VideoWriter w(dir + "/done.mp4", 64, 48, 24, 1);
  w.finish();
  test::expect_error<UsageError>([&] { w.write(gradient(64, 48, 0).data()); }, {"done.mp4"});
}

TEST(VideoWriter, UnfinishedWriterFinishesButAnExceptionDiscards) {
  const std::string dir = test::scratch_dir("video_writer_unfinished");
  {
    VideoWriter w(dir + "/kept.mp4", 64, 48, 24, 1);
    for (int k = 0; k < 5; ++k) w.write(gradient(64, 48, k).data());
  }
  EXPECT_EQ(VideoReader(Source::path(dir + "/kept.mp4")).info().video.n_frames, 5);
  try {
    VideoWriter w(dir + "/dropped.mp4", 64, 48, 24, 1);
    for (int k = 0; k < 5; ++k) w.write(gradient(64, 48, k).data());
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(dir + "/dropped.mp4"));
  EXPECT_FALSE(fs::exists(dir + "/dropped.mp4.part"));
}

}  // namespace
}  // namespace sfvu::decode
