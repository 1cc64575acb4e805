// VideoReader::decode delivery (chunks, memory sources, progress, cancellation, interrupt)
// and damaged input (truncated and overwritten files). Split from video_reader_test.cpp.
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

// ---------------------------------------------------------------------------------------------
// Chunked delivery, memory sources, progress and cancellation

TEST(VideoReaderDecode, ChunksOfAtMostChunkFramesConcatenateToRead) {
  DecoderOptions options;
  options.chunk_frames = 7;
  const std::vector<StreamRequest> requests = {
      {SamplingPlan::all(), FrameFormat{96, 40, ResizeMode::kStretch}},
      {SamplingPlan::at_fps(3), FrameFormat::square(32)},
  };
  VideoReader reader(Source::path(test::video("bikes.mp4")), options);
  std::vector<FrameBatch> joined(2);
  int n_chunks = 0;
  DecodeStats stats = reader.decode(requests, [&](FrameChunk&& c) {
    ++n_chunks;
    ASSERT_GE(c.stream, 0);
    ASSERT_LT(c.stream, 2);
    EXPECT_GT(c.size(), 0);
    EXPECT_LE(c.size(), 7);
    const int w = c.stream == 0 ? 96 : 32, h = c.stream == 0 ? 40 : 32;
    EXPECT_EQ(c.width, w);
    EXPECT_EQ(c.height, h);
    ASSERT_EQ(c.rgb.size(), size_t(c.size()) * size_t(w) * size_t(h) * 3);
    ASSERT_EQ(c.indices.size(), size_t(c.size()));
    ASSERT_EQ(c.pts_seconds.size(), size_t(c.size()));
    FrameBatch& b = joined[size_t(c.stream)];
    for (size_t i = 0; i < c.slots.size(); ++i) EXPECT_EQ(c.slots[i], b.size() + int64_t(i)) << "slots in order";
    b.width = c.width;
    b.height = c.height;
    b.indices.insert(b.indices.end(), c.indices.begin(), c.indices.end());
    b.pts_seconds.insert(b.pts_seconds.end(), c.pts_seconds.begin(), c.pts_seconds.end());
    b.rgb.insert(b.rgb.end(), c.rgb.begin(), c.rgb.end());
  });
  EXPECT_EQ(joined[0].size(), 250);
  EXPECT_EQ(joined[1].size(), 30);
  EXPECT_GE(n_chunks, 250 / 7 + 30 / 7);
  EXPECT_EQ(stats.frames_returned, 280);

  VideoReader reader2(Source::path(test::video("bikes.mp4")));
  ReadResult whole = reader2.read(requests);
  expect_same_batch(joined[0], whole.streams[0], "stream 0 chunks vs read()");
  expect_same_batch(joined[1], whole.streams[1], "stream 1 chunks vs read()");
}

TEST(VideoReaderDecode, MemorySourceGivesTheSameFramesAsThePath) {
  for (const char* file : {"bikes.mp4", "av1_video.mkv", "h265_video.mp4"}) {
    SCOPED_TRACE(file);
    auto bytes = std::make_shared<const std::vector<uint8_t>>(test::read_binary_file(test::video(file)));
    ASSERT_FALSE(bytes->empty());
    const StreamRequest request{SamplingPlan::uniform(8), FrameFormat::native()};
    VideoReader from_memory(Source::memory(bytes, std::string("mem:") + file));
    EXPECT_TRUE(from_memory.info().indexed);
    ReadResult m = from_memory.read({request});
    ReadResult p = read_path(file, request.plan, request.format);
    expect_same_batch(m.streams[0], p.streams[0], "memory vs path");
    EXPECT_EQ(from_memory.info().video.n_frames, VideoReader(Source::path(test::video(file))).info().video.n_frames);
  }
}

TEST(VideoReaderDecode, ProgressIsReported) {
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  int calls = 0;
  int64_t last_done = -1;
  ReadResult r = reader.read({StreamRequest{SamplingPlan::all(), kTiny}}, [&](const Progress& p) {
    ++calls;
    EXPECT_FALSE(p.stage.empty());
    if (p.stage == "decode") {
      EXPECT_GE(p.done, last_done);
      last_done = p.done;
    }
    return true;
  });
  EXPECT_GT(calls, 0);
  EXPECT_EQ(r.streams[0].size(), 250);
}

TEST(VideoReaderDecode, ProgressReturningFalseCancels) {
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  int calls = 0;
  EXPECT_THROW(reader.read({StreamRequest{SamplingPlan::all(), kTiny}},
                           [&](const Progress&) {
                             ++calls;
                             return false;
                           }),
               sfvu::Cancelled);
  EXPECT_GE(calls, 1);
}

TEST(VideoReaderDecode, InterruptEndsTheDecodeEarlyWithoutThrowing) {
  DecoderOptions options;
  options.chunk_frames = 7;
  VideoReader reader(Source::path(test::video("bikes.mp4")), options);
  int64_t frames = 0;
  EXPECT_NO_THROW(reader.decode({StreamRequest{SamplingPlan::all(), kTiny}}, [&](FrameChunk&& c) {
    frames += c.size();
    reader.interrupt();  // from the decoding thread, after the first chunk
  }));
  EXPECT_GE(frames, 1);
  EXPECT_LT(frames, 250);
}

TEST(VideoReaderDecode, BadPlanIsUsageError) {
  VideoReader reader(Source::path(test::video("bikes.mp4")));
  EXPECT_THROW(reader.read({StreamRequest{SamplingPlan::at_fps(0), kTiny}}), UsageError);
  EXPECT_THROW(reader.read({StreamRequest{SamplingPlan::at({-1.0}), kTiny}}), UsageError);
}

// ---------------------------------------------------------------------------------------------
// Damaged input

TEST(VideoReaderDamaged, TruncatedFaststartMp4YieldsTheFramesBeforeTheCut) {
  if (!test::ffmpeg_cli_available()) GTEST_SKIP() << "ffmpeg CLI not found";
  const std::string dir = test::scratch_dir("video_reader_truncated");
  const std::string full_path = dir + "/full.mp4";
  ASSERT_NO_FATAL_FAILURE(test::run_ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -g 10 "
                                           "-movflags +faststart " + test::shell_quote(full_path)));
  const std::vector<uint8_t> bytes = test::read_binary_file(full_path);
  ASSERT_GT(bytes.size(), 1000u);
  const std::string cut_path = dir + "/cut.mp4";
  write_file(cut_path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(bytes.size() * 6 / 10)));

  ReadResult full = read_source(Source::path(full_path), SamplingPlan::all(), kTiny);
  EXPECT_EQ(full.streams[0].size(), 50);
  EXPECT_FALSE(full.stats.truncated);

  // The moov atom is at the front, so the index promises 50 frames; the data stops at 60 %.
  ReadResult cut;
  ASSERT_NO_THROW(cut = read_source(Source::path(cut_path), SamplingPlan::all(), kTiny));
  EXPECT_GT(cut.streams[0].size(), 0);
  EXPECT_LT(cut.streams[0].size(), 50);
  EXPECT_TRUE(cut.stats.truncated);
  for (int64_t i = 0; i < cut.streams[0].size(); ++i) EXPECT_EQ(cut.streams[0].indices[size_t(i)], i);
}

TEST(VideoReaderDamaged, OverwrittenBytesInTheMiddleAreSkipped) {
  std::vector<uint8_t> bytes = test::read_binary_file(test::video("bikes.mp4"));
  ASSERT_EQ(bytes.size(), 509868u);
  // bikes.mp4 is ftyp, free, mdat [40, 506141), moov: 50 % lies inside the frame data.
  const size_t at = bytes.size() / 2;
  std::fill(bytes.begin() + long(at), bytes.begin() + long(at + 4096), uint8_t{0xA5});
  const std::string path = test::scratch_dir("video_reader_corrupt_middle") + "/bikes_damaged.mp4";
  write_file(path, bytes);

  ReadResult r;
  ASSERT_NO_THROW(r = read_source(Source::path(path), SamplingPlan::all(), kTiny));
  // The ffmpeg CLI decodes 246 of the 250 frames of this file.
  EXPECT_GE(r.streams[0].size(), 200);
  EXPECT_LE(r.streams[0].size(), 250);
  EXPECT_GE(r.stats.decode_errors, 1);
  EXPECT_FALSE(r.stats.truncated);
}

}  // namespace
}  // namespace sfvu::decode
