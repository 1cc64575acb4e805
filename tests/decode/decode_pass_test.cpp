// The decode pass's optimisations must not change what comes out: skipping unneeded
// non-reference frames, background conversion, seeking. Each is compared with the plain way.
#include <gtest/gtest.h>

#include "sfvu/decode/video_reader.h"
#include "support/test_support.h"

namespace sfvu::decode {
namespace {

std::vector<StreamRequest> dual_rate() {
  return {{SamplingPlan::at_fps(1), FrameFormat::square(96)},
          {SamplingPlan::at_fps(8), FrameFormat::square(48)},
          {SamplingPlan::at({4.0, 1.0, 1.0}), FrameFormat{80, 40, ResizeMode::kLetterbox}}};
}

ReadResult read_with(const std::string& name, DecoderOptions o) {
  VideoReader reader(Source::path(test::video(name)), o);
  return reader.read(dual_rate());
}

void expect_same(const ReadResult& a, const ReadResult& b, const std::string& what) {
  ASSERT_EQ(a.streams.size(), b.streams.size());
  for (size_t k = 0; k < a.streams.size(); ++k) {
    EXPECT_EQ(a.streams[k].indices, b.streams[k].indices) << what << " stream " << k;
    EXPECT_EQ(a.streams[k].pts_seconds, b.streams[k].pts_seconds) << what << " stream " << k;
    EXPECT_TRUE(a.streams[k].rgb == b.streams[k].rgb) << what << " stream " << k << " pixels differ";
  }
}

class DecodePassEquivalence : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodePassEquivalence, OptimisationsKeepFramesIdentical) {
  DecoderOptions plain;
  plain.threads = 1;  // inline conversion
  plain.allow_seek = false;
  plain.skip_unneeded = false;
  ReadResult reference = read_with(GetParam(), plain);
  ASSERT_GT(reference.streams[1].size(), 0);

  DecoderOptions fast;  // defaults: threads per core, background conversion, seeking, skipping
  ReadResult optimised = read_with(GetParam(), fast);
  expect_same(reference, optimised, "default options");
  EXPECT_LE(optimised.stats.frames_decoded, reference.stats.frames_decoded);
  EXPECT_EQ(optimised.stats.frames_converted, reference.stats.frames_converted);

  DecoderOptions no_skip;
  no_skip.skip_unneeded = false;
  expect_same(reference, read_with(GetParam(), no_skip), "no skipping");
}

INSTANTIATE_TEST_SUITE_P(Codecs, DecodePassEquivalence,
                         ::testing::Values("bikes.mp4", "smpte-2997.mp4", "h265_video.mp4", "flipping_a_pancake.mkv",
                                           "av1_video.mkv", "testsrc2_mpeg4.avi", "fire2.mp4"));

TEST(DecodePass, SkippingDecodesFewerFramesOnBFrameVideo) {
  DecoderOptions o;
  VideoReader reader(Source::path(test::video("bikes.mp4")), o);
  ReadResult r = reader.read({{SamplingPlan::at_fps(2), FrameFormat::square(32)}});
  EXPECT_EQ(r.streams[0].size(), 20);
  // bikes.mp4 has non-reference B-frames: 2 fps out of 25 leaves many of them undecoded.
  EXPECT_LT(r.stats.frames_decoded, 200);
  EXPECT_EQ(r.stats.frames_converted, 20);
}

TEST(DecodePass, DuplicateTimesConvertOnce) {
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  ReadResult r = reader.read({{SamplingPlan::at({2.0, 2.0, 2.01}), FrameFormat::square(64)},
                              {SamplingPlan::at({2.0}), FrameFormat::square(64)}});
  ASSERT_EQ(r.streams[0].size(), 3);
  EXPECT_EQ(r.streams[0].indices[0], 50);
  EXPECT_EQ(r.streams[0].indices[2], 50);
  EXPECT_EQ(r.stats.frames_converted, 1) << "one frame, one format: one conversion";
  EXPECT_EQ(r.stats.frames_returned, 4);
  EXPECT_TRUE(std::equal(r.streams[0].frame(0), r.streams[0].frame(0) + 64 * 64 * 3, r.streams[1].frame(0)));
}

TEST(DecodePass, SecondPassOnSameReader) {
  VideoReader reader(Source::path(test::video("smpte-2997.mp4")));
  ReadResult late = reader.read({{SamplingPlan::at({8.0}), FrameFormat::square(32)}});
  ReadResult early = reader.read({{SamplingPlan::at({1.0}), FrameFormat::square(32)}});
  ASSERT_EQ(late.streams[0].size(), 1);
  ASSERT_EQ(early.streams[0].size(), 1);
  EXPECT_EQ(late.streams[0].indices[0], 200);
  EXPECT_EQ(early.streams[0].indices[0], 25) << "a later pass may go backwards";
}

}  // namespace
}  // namespace sfvu::decode
