// probe() and VideoReader::info()/index() against the facts of every test video
// (tests/fixtures/videos/MANIFEST.md, measured with ffprobe 5.1), plus the failure cases:
// audio-only, missing, empty and garbage inputs.
#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "sfvu/base/error.h"
#include "sfvu/decode/media_info.h"
#include "sfvu/decode/video_reader.h"
#include "support/test_support.h"

namespace sfvu::decode {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct VideoFacts {
  const char* file;
  int stream_index;
  const char* codec;
  const char* pix_fmt;
  int width, height;              // displayed (after rotation)
  int coded_width, coded_height;  // stored
  int rotation_degrees;
  double start_seconds;
  bool has_audio;
  int64_t n_frames;               // packets not discarded by an edit list
  int64_t n_keyframes;            // key packets, discarded ones included (MANIFEST "K")
  double fps, fps_tolerance;
  double duration_seconds, duration_tolerance;
  const char* format_part;        // a demuxer name the format string must contain
};

// One row per video file of MANIFEST.md. Durations are first frame to end of last frame from
// the packet index (ffprobe packet pts + duration); fps is avg_frame_rate.
const VideoFacts kFacts[] = {
    {"smpte-2997.mp4", 0, "h264", "yuv420p", 1920, 1080, 1920, 1080, 0, 0.0, true, 251, 17, 25.0, 0.01, 10.04, 0.005, "mp4"},
    {"bikes.mp4", 0, "h264", "yuv420p", 640, 272, 640, 272, 0, 0.0, false, 250, 6, 25.0, 0.01, 10.0, 0.005, "mp4"},
    // Best stream of six: v3 480x270 at 30000/1001, not v0.
    {"nasa_13013.mp4", 3, "h264", "yuv420p", 480, 270, 480, 270, 0, 0.0, true, 390, 2, 29.97, 0.01, 13.013, 0.005, "mp4"},
    // Matroska, 1 ms time base, no nb_frames; container duration 10.381 includes the audio.
    {"flipping_a_pancake.mkv", 0, "h264", "yuv420p", 426, 240, 426, 240, 0, 0.0, true, 310, 3, 30.0, 0.1, 10.333, 0.06, "matroska"},
    // VFR; r_frame_rate 90000/1 is garbage, avg 750000/71393; display matrix -180.
    {"fire2.mp4", 0, "h264", "yuv420p", 1280, 720, 1280, 720, 180, 0.0, true, 25, 1, 10.505, 0.01, 2.379767, 0.005, "mp4"},
    // No duration and no nb_frames in the header: both must come from the index.
    {"no_duration.webm", 0, "vp9", "yuv420p", 1280, 720, 1280, 720, 0, 0.0, true, 74, 1, 15.0, 0.1, 4.938, 0.1, "webm"},
    // Display matrix 90 (counter-clockwise): displayed portrait.
    {"nasa_13013_rotated.mp4", 0, "h264", "yuv420p", 270, 480, 480, 270, 90, 0.0, false, 17, 1, 29.97, 0.01, 0.567233, 0.005, "mp4"},
    {"h265_video.mp4", 0, "hevc", "yuv420p", 128, 128, 128, 128, 0, 0.0, false, 10, 5, 10.0, 0.01, 1.0, 0.005, "mp4"},
    {"av1_video.mkv", 0, "av1", "yuv420p", 640, 360, 640, 360, 0, 0.0, false, 125, 1, 25.0, 0.01, 5.0, 0.005, "matroska"},
    {"testsrc2_odd_height_and_width_vp9.mp4", 0, "vp9", "yuv420p", 321, 241, 321, 241, 0, 0.0, false, 25, 1, 25.0, 0.01, 1.0, 0.005, "mp4"},
    {"testsrc2_mpeg4.avi", 0, "mpeg4", "yuv420p", 1280, 720, 1280, 720, 0, 0.0, false, 30, 3, 30.0, 0.01, 1.0, 0.005, "avi"},
    {"stub_mjpeg.avi", 0, "mjpeg", "yuvj420p", 160, 120, 160, 120, 0, 0.0, false, 3, 3, 10.0, 0.01, 0.3, 0.005, "avi"},
    {"test_non_zero_start.mp4", 0, "h264", "yuv420p", 200, 112, 200, 112, 0, 8.333008, false, 12, 1, 30.0, 0.01, 0.4, 0.005, "mp4"},
    // Edit list discards the first 5 packets (incl. the first keyframe): 25 frames, not 30.
    {"discard_first_keyframe.mp4", 0, "h264", "yuv420p", 64, 64, 64, 64, 0, 0.0, false, 25, 3, 25.0, 0.01, 1.0, 0.005, "mp4"},
    // 50 packets, of which 49 decode: n_frames counts packets.
    {"corrupted.mp4", 0, "h264", "yuv420p", 1280, 720, 1280, 720, 0, 0.0, false, 50, 1, 10.0, 0.01, 5.0, 0.005, "mp4"},
};

std::string test_name(const ::testing::TestParamInfo<VideoFacts>& info) {
  std::string name;
  for (const char* c = info.param.file; *c; ++c) name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  return name;
}

class ProbeManifest : public ::testing::TestWithParam<VideoFacts> {};

void expect_facts(const MediaInfo& info, const VideoFacts& f, const std::string& location) {
  EXPECT_EQ(info.path, location);
  EXPECT_TRUE(contains(info.format, f.format_part)) << info.format;
  EXPECT_EQ(info.video.stream_index, f.stream_index);
  EXPECT_EQ(info.video.codec, f.codec);
  EXPECT_EQ(info.video.pix_fmt, f.pix_fmt);
  EXPECT_EQ(info.video.width, f.width);
  EXPECT_EQ(info.video.height, f.height);
  EXPECT_EQ(info.video.coded_width, f.coded_width);
  EXPECT_EQ(info.video.coded_height, f.coded_height);
  EXPECT_EQ(info.video.rotation_degrees, f.rotation_degrees);
  EXPECT_NEAR(info.start_seconds, f.start_seconds, 1e-3);
  EXPECT_EQ(info.has_audio, f.has_audio);
  EXPECT_EQ(info.video.n_frames, f.n_frames);
  EXPECT_TRUE(info.video.n_frames_exact);
  EXPECT_NEAR(info.video.fps, f.fps, f.fps_tolerance);
  EXPECT_NEAR(info.duration_seconds, f.duration_seconds, f.duration_tolerance);
  EXPECT_TRUE(info.seekable);
  EXPECT_TRUE(info.indexed);
}

TEST_P(ProbeManifest, ReportsManifestFacts) {
  const VideoFacts& f = GetParam();
  const std::string path = test::video(f.file);
  MediaInfo info = probe(Source::path(path));
  expect_facts(info, f, path);
}

TEST_P(ProbeManifest, ReaderInfoAndIndexAgreeWithProbe) {
  const VideoFacts& f = GetParam();
  const std::string path = test::video(f.file);
  VideoReader reader(Source::path(path));
  expect_facts(reader.info(), f, path);
  const FrameIndex* index = reader.index();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), f.n_frames);
  EXPECT_EQ(index->n_keyframes(), f.n_keyframes);
  EXPECT_NEAR(index->duration_seconds(), f.duration_seconds, f.duration_tolerance);
  // Presentation order: strictly increasing pts.
  for (int64_t i = 1; i < index->size(); ++i) {
    EXPECT_LT((*index)[i - 1].pts, (*index)[i].pts) << "frame " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryVideo, ProbeManifest, ::testing::ValuesIn(kFacts), test_name);

// ---------------------------------------------------------------------------------------------
// Specific facts

TEST(Probe, NasaStreamZeroWhenAsked) {
  DecoderOptions options;
  options.stream_index = 0;
  MediaInfo info = probe(Source::path(test::video("nasa_13013.mp4")), options);
  EXPECT_EQ(info.video.stream_index, 0);
  EXPECT_EQ(info.video.width, 320);
  EXPECT_EQ(info.video.height, 180);
  EXPECT_EQ(info.video.n_frames, 325);
  EXPECT_NEAR(info.video.fps, 25.0, 0.01);
  EXPECT_NEAR(info.duration_seconds, 13.0, 0.005);
}

TEST(Probe, ContainerDurationIsTheHeaders) {
  // nasa's container duration (16.57 s) comes from a subtitle stream; the video is 13.013 s.
  MediaInfo nasa = probe(Source::path(test::video("nasa_13013.mp4")));
  EXPECT_NEAR(nasa.container_duration_seconds, 16.57, 0.01);
  EXPECT_NEAR(nasa.duration_seconds, 13.013, 0.005);
  MediaInfo smpte = probe(Source::path(test::video("smpte-2997.mp4")));
  EXPECT_NEAR(smpte.container_duration_seconds, 10.048, 0.01);
}

TEST(Probe, NoDurationWebmStillGetsAPositiveDurationFromTheIndex) {
  MediaInfo info = probe(Source::path(test::video("no_duration.webm")));
  EXPECT_LT(info.container_duration_seconds, 0) << "the header has no duration";
  EXPECT_GT(info.duration_seconds, 4.8);
  EXPECT_LT(info.duration_seconds, 5.05);
}

TEST(Probe, DiscardedKeyframeIsASeekPointButNotAFrame) {
  VideoReader reader(Source::path(test::video("discard_first_keyframe.mp4")));
  const FrameIndex* index = reader.index();
  ASSERT_NE(index, nullptr);
  ASSERT_EQ(index->size(), 25);
  EXPECT_EQ(index->first_pts(), 0);
  EXPECT_EQ((*index)[0].pts, 0);
  // Kept keyframes are frames 5 and 15; the first (discarded) keyframe has negative pts and
  // is where decoding frames 0..4 must start.
  EXPECT_EQ(index->keyframe_frames(), (std::vector<int64_t>{5, 15}));
  EXPECT_LT(index->keyframe_for(0).pts, 0);
  EXPECT_TRUE(index->keyframe_for(0).key);
}

TEST(Probe, BikesKeyframesAreTheSceneCuts) {
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  ASSERT_NE(reader.index(), nullptr);
  EXPECT_EQ(reader.index()->keyframe_frames(), (std::vector<int64_t>{0, 30, 76, 137, 187, 242}));
  EXPECT_EQ(reader.index()->keyframe_for(100).pts, (*reader.index())[76].pts);
}

TEST(Probe, MemorySourceReportsTheSameFacts) {
  auto bytes = std::make_shared<const std::vector<uint8_t>>(test::read_binary_file(test::video("bikes.mp4")));
  ASSERT_EQ(bytes->size(), 509868u);
  MediaInfo info = probe(Source::memory(bytes, "bikes-in-memory"));
  EXPECT_EQ(info.path, "bikes-in-memory");
  EXPECT_EQ(info.video.width, 640);
  EXPECT_EQ(info.video.height, 272);
  EXPECT_EQ(info.video.n_frames, 250);
  EXPECT_TRUE(info.video.n_frames_exact);
  EXPECT_TRUE(info.indexed);
  EXPECT_TRUE(info.seekable);
  EXPECT_NEAR(info.duration_seconds, 10.0, 0.005);
}

// ---------------------------------------------------------------------------------------------
// Failures

TEST(ProbeErrors, AudioOnlyFileIsFormatErrorNoVideoStream) {
  const std::string path = test::video("nasa_13013.mp4.audio.mp3");
  try {
    probe(Source::path(path));
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_TRUE(contains(e.what(), "nasa_13013.mp4.audio.mp3")) << e.what();
    EXPECT_TRUE(contains(e.what(), "no video stream")) << e.what();
  }
  EXPECT_THROW(VideoReader reader(Source::path(path)), FormatError);
}

TEST(ProbeErrors, MissingFileIsIoErrorNamingThePath) {
  const std::string path = test::scratch_dir("probe_missing") + "/does_not_exist.mp4";
  try {
    probe(Source::path(path));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
  }
  EXPECT_THROW(VideoReader reader(Source::path(path)), IoError);
}

TEST(ProbeErrors, EmptyFileIsAnErrorNamingThePath) {
  const std::string path = test::scratch_dir("probe_empty") + "/empty.mp4";
  { std::ofstream out(path, std::ios::binary); }
  try {
    probe(Source::path(path));
    FAIL() << "expected sfvu::Error";
  } catch (const sfvu::Error& e) {
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
  }
}

std::vector<uint8_t> garbage_bytes(size_t n) {
  // Deterministic pseudo-random bytes (64-bit LCG, high byte).
  std::vector<uint8_t> bytes(n);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (auto& b : bytes) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<uint8_t>(state >> 56);
  }
  return bytes;
}

TEST(ProbeErrors, GarbageFileIsAnErrorNamingThePath) {
  const std::string path = test::scratch_dir("probe_garbage") + "/garbage.mp4";
  {
    auto bytes = garbage_bytes(64 * 1024);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    probe(Source::path(path));
    FAIL() << "expected sfvu::Error";
  } catch (const sfvu::Error& e) {
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
  }
}

TEST(ProbeErrors, GarbageMemoryIsAnErrorNamingTheSource) {
  auto bytes = std::make_shared<const std::vector<uint8_t>>(garbage_bytes(16 * 1024));
  try {
    probe(Source::memory(bytes, "garbage-in-memory"));
    FAIL() << "expected sfvu::Error";
  } catch (const sfvu::Error& e) {
    EXPECT_TRUE(contains(e.what(), "garbage-in-memory")) << e.what();
  }
}

TEST(ProbeErrors, StreamIndexThatIsNotVideoIsAnError) {
  DecoderOptions options;
  options.stream_index = 1;  // nasa_13013.mp4 stream 1 is AAC audio
  EXPECT_THROW(probe(Source::path(test::video("nasa_13013.mp4")), options), sfvu::Error);
  options.stream_index = 99;
  EXPECT_THROW(probe(Source::path(test::video("nasa_13013.mp4")), options), sfvu::Error);
}

TEST(FfmpegErrorText, DescribesAnAverrorCode) {
  // AVERROR(ENOENT) is -ENOENT.
  EXPECT_TRUE(contains(ffmpeg_error_text(-ENOENT), "No such file")) << ffmpeg_error_text(-ENOENT);
}

}  // namespace
}  // namespace sfvu::decode
