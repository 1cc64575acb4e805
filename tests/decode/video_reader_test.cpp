// VideoReader::read / decode on the fixture videos: frame counts (MANIFEST "dec" column),
// timestamps against torchcodec's per-frame references, the played-at rule on VFR video,
// seeking that is pixel-identical to decoding through, one-pass dual-rate sampling, ranges,
// keyframes-only, chunking, memory sources, cancellation, truncated and corrupted input.
#include "sfvu/decode/video_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sfvu/base/error.h"
#include "support/test_support.h"
#include "decode/video_reader_test_util.h"

namespace sfvu::decode {
namespace {


// Decodes every frame at native size and keeps copies of the `wanted` indices.
std::map<int64_t, std::vector<uint8_t>> full_decode_keep(const Source& source, const std::set<int64_t>& wanted,
                                                         DecoderOptions options = {}) {
  std::map<int64_t, std::vector<uint8_t>> kept;
  VideoReader reader(source, options);
  reader.decode({StreamRequest{SamplingPlan::all(), FrameFormat::native()}}, [&](FrameChunk&& c) {
    const size_t bytes = size_t(c.width) * size_t(c.height) * 3;
    for (int64_t i = 0; i < c.size(); ++i) {
      if (wanted.count(c.indices[size_t(i)])) {
        kept[c.indices[size_t(i)]].assign(c.rgb.begin() + i * int64_t(bytes), c.rgb.begin() + (i + 1) * int64_t(bytes));
      }
    }
  });
  return kept;
}

// pts_time values of a torchcodec refs/*.all_frames_info.json (a list of string fields).
std::vector<double> ref_pts(const std::string& name) {
  const std::string text = test::read_text_file(test::fixture("videos/refs/" + name));
  std::vector<double> out;
  const std::string key = "\"pts_time\"";
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + key.size())) {
    const size_t open = text.find('"', text.find(':', pos + key.size()));
    const size_t close = text.find('"', open + 1);
    out.push_back(std::stod(text.substr(open + 1, close - open - 1)));
  }
  return out;
}


// ---------------------------------------------------------------------------------------------
// Frame counts: MANIFEST "dec" column, SamplingPlan::all()

struct DecodedCount {
  const char* file;
  int64_t frames;
};

const DecodedCount kDecodedCounts[] = {
    {"smpte-2997.mp4", 251},
    {"bikes.mp4", 250},
    {"nasa_13013.mp4", 390},  // default: best stream 3
    {"flipping_a_pancake.mkv", 310},
    {"fire2.mp4", 25},
    {"no_duration.webm", 74},
    {"nasa_13013_rotated.mp4", 17},
    {"h265_video.mp4", 10},
    {"av1_video.mkv", 125},
    {"testsrc2_odd_height_and_width_vp9.mp4", 25},
    {"testsrc2_mpeg4.avi", 30},
    {"stub_mjpeg.avi", 3},
    {"test_non_zero_start.mp4", 12},
    {"discard_first_keyframe.mp4", 25},
};

std::string count_name(const ::testing::TestParamInfo<DecodedCount>& info) {
  std::string name;
  for (const char* c = info.param.file; *c; ++c) name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  return name;
}

class DecodeAll : public ::testing::TestWithParam<DecodedCount> {};

TEST_P(DecodeAll, ReturnsEveryFrameInOrder) {
  const DecodedCount& expected = GetParam();
  VideoReader reader(Source::path(test::video(expected.file)));
  ReadResult r = reader.read({StreamRequest{SamplingPlan::all(), kTiny}});
  ASSERT_EQ(r.streams.size(), 1u);
  const FrameBatch& b = r.streams[0];
  EXPECT_EQ(b.size(), expected.frames);
  EXPECT_EQ(b.width, 32);
  EXPECT_EQ(b.height, 32);
  EXPECT_EQ(b.rgb.size(), size_t(b.size()) * 32 * 32 * 3);
  ASSERT_EQ(b.pts_seconds.size(), size_t(b.size()));
  ASSERT_NE(reader.index(), nullptr);
  const FrameIndex& index = *reader.index();
  for (int64_t i = 0; i < b.size(); ++i) {
    ASSERT_EQ(b.indices[size_t(i)], i) << "frame index == position";
    EXPECT_NEAR(b.pts_seconds[size_t(i)], index.seconds(index[i].pts), 1e-6) << "frame " << i;
    if (i > 0) { EXPECT_GT(b.pts_seconds[size_t(i)], b.pts_seconds[size_t(i - 1)]) << "frame " << i; }
  }
  if (b.size() > 0) { EXPECT_NEAR(b.pts_seconds[0], 0.0, 1e-9); }
  EXPECT_EQ(r.stats.frames_returned, expected.frames);
  EXPECT_GE(r.stats.frames_decoded, expected.frames);
  EXPECT_GE(r.stats.packets_read, expected.frames);
  EXPECT_EQ(r.stats.frames_converted, expected.frames);
  EXPECT_EQ(r.stats.decode_errors, 0);
  EXPECT_FALSE(r.stats.truncated);
}

INSTANTIATE_TEST_SUITE_P(EveryVideo, DecodeAll, ::testing::ValuesIn(kDecodedCounts), count_name);

TEST(VideoReader, NasaStreamZeroDecodes325Frames) {
  DecoderOptions options;
  options.stream_index = 0;
  ReadResult r = read_path("nasa_13013.mp4", SamplingPlan::all(), kTiny, options);
  EXPECT_EQ(r.streams[0].size(), 325);
}

TEST(VideoReader, CorruptedFileSkipsTheBadFrameAndCountsIt) {
  ReadResult r = read_path("corrupted.mp4", SamplingPlan::all(), kTiny);
  const FrameBatch& b = r.streams[0];
  EXPECT_EQ(b.size(), 49);  // 50 packets, 49 decodable
  EXPECT_GE(r.stats.decode_errors, 1);
  EXPECT_FALSE(r.stats.last_error.empty());
  for (int64_t i = 1; i < b.size(); ++i) {
    EXPECT_GT(b.indices[size_t(i)], b.indices[size_t(i - 1)]);
    EXPECT_GT(b.pts_seconds[size_t(i)], b.pts_seconds[size_t(i - 1)]);
  }
}

TEST(VideoReader, DiscardFirstKeyframeStartsAtPtsZero) {
  ReadResult r = read_path("discard_first_keyframe.mp4", SamplingPlan::all(), FrameFormat::native());
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), 25);
  EXPECT_EQ(b.indices[0], 0);
  EXPECT_DOUBLE_EQ(b.pts_seconds[0], 0.0);
  EXPECT_NEAR(b.pts_seconds[24], 0.96, 1e-6);
  EXPECT_EQ(b.width, 64);
  EXPECT_EQ(b.height, 64);
}

// ---------------------------------------------------------------------------------------------
// Timestamps against torchcodec's references (ffprobe pts_time). Ours are relative to the
// first frame; the references are container times, so ours + start_seconds is compared.

void expect_pts_match_ref(const std::string& file, const std::string& ref, int stream_index, int width, int height) {
  SCOPED_TRACE(file + " / " + ref);
  DecoderOptions options;
  options.stream_index = stream_index;
  VideoReader reader(Source::path(test::video(file)), options);
  ReadResult r = reader.read({StreamRequest{SamplingPlan::all(), kTiny}});
  const std::vector<double> expected = ref_pts(ref);
  ASSERT_FALSE(expected.empty());
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), static_cast<int64_t>(expected.size()));
  EXPECT_EQ(reader.info().video.width, width);
  EXPECT_EQ(reader.info().video.height, height);
  const double start = reader.info().start_seconds;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(b.indices[i], static_cast<int64_t>(i));
    EXPECT_NEAR(b.pts_seconds[i] + start, expected[i], 1e-3) << "frame " << i;
  }
}

TEST(VideoReaderPts, NasaStream0MatchesRefs) {
  expect_pts_match_ref("nasa_13013.mp4", "nasa_13013.mp4.stream0.all_frames_info.json", 0, 320, 180);
}
TEST(VideoReaderPts, NasaStream3MatchesRefs) {
  expect_pts_match_ref("nasa_13013.mp4", "nasa_13013.mp4.stream3.all_frames_info.json", -1, 480, 270);
}
TEST(VideoReaderPts, RotatedMatchesRefs) {
  expect_pts_match_ref("nasa_13013_rotated.mp4", "nasa_13013_rotated.mp4.stream0.all_frames_info.json", -1, 270, 480);
}
TEST(VideoReaderPts, NonZeroStartMatchesRefs) {
  expect_pts_match_ref("test_non_zero_start.mp4", "test_non_zero_start.mp4.stream0.all_frames_info.json", -1, 200, 112);
}

TEST(VideoReaderPts, RotatedFramesAreDisplayedSize) {
  ReadResult r = read_path("nasa_13013_rotated.mp4", SamplingPlan::uniform(2), FrameFormat::native());
  EXPECT_EQ(r.streams[0].width, 270);
  EXPECT_EQ(r.streams[0].height, 480);
  EXPECT_EQ(r.streams[0].rgb.size(), size_t(2) * 270 * 480 * 3);
}

// Note [Frame displayed at time t]: on the VFR fire2.mp4, t = 2.2 s is served by the frame
// at 2.1799 s (last pts <= t), not 2.2798 s (ffmpeg -ss).
TEST(VideoReaderPts, VfrTimestampGetsTheFrameDisplayedAtT) {
  VideoReader reader(Source::path(test::video("fire2.mp4")));
  ReadResult r = reader.read({StreamRequest{SamplingPlan::at({2.2}), kTiny}});
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), 1);
  EXPECT_NEAR(b.pts_seconds[0], 2.1799, 1e-3);
  ASSERT_NE(reader.index(), nullptr);
  EXPECT_EQ(b.indices[0], reader.index()->frame_at(2.2));
  EXPECT_NEAR(reader.index()->seconds((*reader.index())[b.indices[0] + 1].pts), 2.2798, 1e-3);
}

// ---------------------------------------------------------------------------------------------
// Seeking: sparse reads are pixel-identical to the same frames of a full decode.

void expect_uniform_equals_full_decode(const std::string& file, bool expect_seeks) {
  SCOPED_TRACE(file);
  const Source source = Source::path(test::video(file));
  VideoReader reader(source);
  ReadResult sparse = reader.read({StreamRequest{SamplingPlan::uniform(16), FrameFormat::native()}});
  const FrameBatch& b = sparse.streams[0];
  ASSERT_EQ(b.size(), 16);
  // Indices are the frames displayed at the segment midpoints.
  ASSERT_NE(reader.index(), nullptr);
  auto targets = plan_targets(SamplingPlan::uniform(16), reader.info().duration_seconds);
  ASSERT_EQ(targets.size(), 16u);
  for (const auto& t : targets) {
    EXPECT_EQ(b.indices[size_t(t.slot)], reader.index()->frame_at(t.seconds)) << "t = " << t.seconds;
  }
  if (expect_seeks) { EXPECT_GT(sparse.stats.seeks, 0); }

  const auto full = full_decode_keep(source, std::set<int64_t>(b.indices.begin(), b.indices.end()));
  for (int64_t i = 0; i < b.size(); ++i) {
    auto it = full.find(b.indices[size_t(i)]);
    ASSERT_NE(it, full.end()) << "index " << b.indices[size_t(i)] << " missing from full decode";
    ASSERT_EQ(it->second.size(), frame_bytes(b));
    const int diff = test::max_abs_diff(b.frame(i), it->second.data(), frame_bytes(b));
    EXPECT_EQ(diff, 0) << "slot " << i << " index " << b.indices[size_t(i)] << " max abs diff " << diff;
  }

  DecoderOptions no_seek;
  no_seek.allow_seek = false;
  VideoReader through(source, no_seek);
  ReadResult decoded_through = through.read({StreamRequest{SamplingPlan::uniform(16), FrameFormat::native()}});
  EXPECT_EQ(decoded_through.stats.seeks, 0);
  expect_same_batch(decoded_through.streams[0], b, "allow_seek=false vs seeking");
}

TEST(VideoReaderSeek, Smpte17GopsUniform16EqualsFullDecode) { expect_uniform_equals_full_decode("smpte-2997.mp4", true); }
TEST(VideoReaderSeek, HevcUniform16EqualsFullDecode) { expect_uniform_equals_full_decode("h265_video.mp4", false); }
TEST(VideoReaderSeek, BikesUniform16EqualsFullDecode) { expect_uniform_equals_full_decode("bikes.mp4", false); }

TEST(VideoReaderSeek, ReadingAgainGivesTheSameFrames) {
  VideoReader reader(Source::path(test::video("smpte-2997.mp4")));
  const StreamRequest request{SamplingPlan::at({7.3, 1.1, 4.0}), FrameFormat{192, 108, ResizeMode::kStretch}};
  ReadResult first = reader.read({request});
  ReadResult second = reader.read({request});
  expect_same_batch(first.streams[0], second.streams[0], "second read()");
}

// ---------------------------------------------------------------------------------------------
// Two sampling rates in one pass (the SlowFast use): each frame decoded at most once.

TEST(VideoReaderDualRate, OnePassServesBothStreams) {
  const StreamRequest slow{SamplingPlan::at_fps(1), FrameFormat::square(224)};
  const StreamRequest fast{SamplingPlan::at_fps(8), FrameFormat::square(112)};
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  ReadResult both = reader.read({slow, fast});
  ASSERT_EQ(both.streams.size(), 2u);
  const FrameBatch& s = both.streams[0];
  const FrameBatch& f = both.streams[1];
  EXPECT_EQ(s.size(), 10);  // 10 s at 1 fps
  EXPECT_EQ(f.size(), 80);  // 10 s at 8 fps
  EXPECT_EQ(s.width, 224);
  EXPECT_EQ(s.height, 224);
  EXPECT_EQ(f.width, 112);
  EXPECT_EQ(f.height, 112);
  for (int64_t k = 0; k < s.size(); ++k) EXPECT_EQ(s.indices[size_t(k)], 25 * k);
  for (int64_t k = 1; k < f.size(); ++k) EXPECT_GT(f.indices[size_t(k)], f.indices[size_t(k - 1)]);
  EXPECT_LE(both.stats.frames_decoded, 250);
  EXPECT_LE(both.stats.frames_converted, 90);
  EXPECT_EQ(both.stats.frames_returned, 90);

  expect_same_batch(s, read_path("bikes.mp4", slow.plan, slow.format).streams[0], "slow stream vs single read");
  expect_same_batch(f, read_path("bikes.mp4", fast.plan, fast.format).streams[0], "fast stream vs single read");
}

// ---------------------------------------------------------------------------------------------
// Timestamps in request order, ranges, keyframes only

TEST(VideoReaderPlans, UnsortedTimestampsKeepRequestOrderAndDuplicates) {
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  ReadResult r = reader.read({StreamRequest{SamplingPlan::at({3.0, 1.0, 3.0}), FrameFormat{160, 68, ResizeMode::kStretch}}});
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), 3);
  EXPECT_EQ(b.indices[0], reader.index()->frame_at(3.0));
  EXPECT_EQ(b.indices[1], reader.index()->frame_at(1.0));
  EXPECT_EQ(b.indices[2], reader.index()->frame_at(3.0));
  EXPECT_EQ(b.indices[0], 75);
  EXPECT_EQ(b.indices[1], 25);
  EXPECT_NEAR(b.pts_seconds[0], 3.0, 1e-6);
  EXPECT_NEAR(b.pts_seconds[1], 1.0, 1e-6);
  EXPECT_NEAR(b.pts_seconds[2], 3.0, 1e-6);
  EXPECT_EQ(test::max_abs_diff(b.frame(0), b.frame(2), frame_bytes(b)), 0);
  EXPECT_GT(test::max_abs_diff(b.frame(0), b.frame(1), frame_bytes(b)), 0);
  EXPECT_EQ(r.stats.frames_returned, 3);
}

TEST(VideoReaderPlans, AllWithinRange) {
  ReadResult r = read_path("bikes.mp4", SamplingPlan::all().range(2.0, 4.0), kTiny);
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), 50);
  for (int64_t i = 0; i < b.size(); ++i) EXPECT_EQ(b.indices[size_t(i)], 50 + i);
  EXPECT_NEAR(b.pts_seconds.front(), 2.0, 1e-6);
  EXPECT_NEAR(b.pts_seconds.back(), 3.96, 1e-6);
}

TEST(VideoReaderPlans, FpsWithinRange) {
  // 2.02 + k * 0.2 falls mid-frame (frames every 0.04 s): frames 50, 55, ..., 95.
  ReadResult r = read_path("bikes.mp4", SamplingPlan::at_fps(5).range(2.02, 4.02), kTiny);
  const FrameBatch& b = r.streams[0];
  ASSERT_EQ(b.size(), 10);
  for (int64_t k = 0; k < b.size(); ++k) EXPECT_EQ(b.indices[size_t(k)], 50 + 5 * k);
}

TEST(VideoReaderPlans, CountWithinRange) {
  // Midpoints 2.5, 3.5, 4.5, 5.5 s -> frames 62, 87, 112, 137.
  ReadResult r = read_path("bikes.mp4", SamplingPlan::uniform(4).range(2.0, 6.0), kTiny);
  EXPECT_EQ(r.streams[0].indices, (std::vector<int64_t>{62, 87, 112, 137}));
}

// t_k = k / fps lands exactly on frame k when fps is the video's rate: every frame once, no
// duplicates from rounding (k / fps vs k * time_base in floating point).
TEST(VideoReaderPlans, FpsEqualToTheFrameRateReturnsEveryFrameOnce) {
  const struct {
    const char* file;
    double fps;
    int64_t frames;
  } cases[] = {{"bikes.mp4", 25, 250}, {"h265_video.mp4", 10, 10}, {"testsrc2_mpeg4.avi", 30, 30},
               {"stub_mjpeg.avi", 10, 3}, {"test_non_zero_start.mp4", 30, 12}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    ReadResult r = read_path(c.file, SamplingPlan::at_fps(c.fps), kTiny);
    std::vector<int64_t> expected(static_cast<size_t>(c.frames));
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i);
    EXPECT_EQ(r.streams[0].indices, expected);
  }
}

TEST(VideoReaderPlans, TimesPastTheEndGetNothing) {
  ReadResult r = read_path("bikes.mp4", SamplingPlan::at_fps(1).range(8.0, 50.0), kTiny);
  EXPECT_EQ(r.streams[0].indices, (std::vector<int64_t>{200, 225}));
}

TEST(VideoReaderPlans, KeyframesOnlyReturnsOnlyKeyframes) {
  DecoderOptions options;
  options.keyframes_only = true;
  VideoReader reader(Source::path(test::video("bikes.mp4")), options);
  ReadResult r = reader.read({StreamRequest{SamplingPlan::all(), FrameFormat::native()}});
  ASSERT_NE(reader.index(), nullptr);
  const std::vector<int64_t> keyframes = reader.index()->keyframe_frames();
  EXPECT_EQ(keyframes, (std::vector<int64_t>{0, 30, 76, 137, 187, 242}));
  const FrameBatch& b = r.streams[0];
  EXPECT_EQ(b.indices, keyframes);
  EXPECT_GT(r.stats.packets_skipped, 0);
  EXPECT_LE(r.stats.frames_decoded, static_cast<int64_t>(keyframes.size()));

  // Intra frames decode the same without their neighbours.
  const auto full = full_decode_keep(Source::path(test::video("bikes.mp4")),
                                     std::set<int64_t>(keyframes.begin(), keyframes.end()));
  for (int64_t i = 0; i < b.size(); ++i) {
    auto it = full.find(b.indices[size_t(i)]);
    ASSERT_NE(it, full.end());
    EXPECT_EQ(test::max_abs_diff(b.frame(i), it->second.data(), frame_bytes(b)), 0) << "keyframe " << b.indices[size_t(i)];
  }
}


}  // namespace
}  // namespace sfvu::decode
