// Helpers shared by the VideoReader test files.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "sfvu/decode/video_reader.h"
#include "support/test_support.h"

namespace sfvu::decode {

inline const FrameFormat kTiny{32, 32, ResizeMode::kStretch};  // cheap conversion when only counts/times matter

inline ReadResult read_source(const Source& source, const SamplingPlan& plan, const FrameFormat& format = FrameFormat::native(),
                       const DecoderOptions& options = {}) {
  VideoReader reader(source, options);
  return reader.read({StreamRequest{plan, format}});
}

/// Reads one stream of the fixture video `file`.
inline ReadResult read_path(const std::string& file, const SamplingPlan& plan, const FrameFormat& format = FrameFormat::native(),
                     const DecoderOptions& options = {}) {
  return read_source(Source::path(test::video(file)), plan, format, options);
}

inline size_t frame_bytes(const FrameBatch& b) { return size_t(b.width) * size_t(b.height) * 3; }

// Exact equality of two batches (sizes, indices, times, pixels), reporting the first difference.
inline void expect_same_batch(const FrameBatch& a, const FrameBatch& b, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.width, b.width);
  ASSERT_EQ(a.height, b.height);
  EXPECT_EQ(a.indices, b.indices);
  ASSERT_EQ(a.rgb.size(), b.rgb.size());
  for (int64_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a.pts_seconds[size_t(i)], b.pts_seconds[size_t(i)], 1e-9) << "frame " << i;
    const int diff = test::max_abs_diff(a.frame(i), b.frame(i), frame_bytes(a));
    EXPECT_EQ(diff, 0) << "frame " << i << " (index " << a.indices[size_t(i)] << ") max abs diff " << diff;
  }
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace sfvu::decode
