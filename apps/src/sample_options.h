// The dual-rate (slow + fast) sampling job shared by `sfvu sample` and `sfvu demo`.
#pragma once

#include <array>
#include <limits>
#include <string>

#include "cli_common.h"

namespace sfvu::cli {

/// Defaults: the SlowFast recipe of the design (slow 1 fps at 224, fast 8 fps at 112).
struct DualRateOptions {
  double slow_fps = 1.0;
  int slow_size = 224;
  double fast_fps = 8.0;
  int fast_size = 112;
  decode::ResizeMode resize = decode::ResizeMode::kCrop;
  double from_seconds = 0.0;
  double to_seconds = std::numeric_limits<double>::infinity();
};

struct DualRateResult {
  decode::MediaInfo info;
  decode::DecodeStats stats;
  json report;  ///< the content of sample.json
};

void add_dual_rate_options(po::options_description& desc);
DualRateOptions dual_rate_options(const po::variables_map& vm);

/// One decode pass writing OUT/slow.npy, OUT/fast.npy and OUT/sample.json. With `keep`, the
/// frames written are also kept in memory ([0] slow, [1] fast) for the caller to draw.
DualRateResult run_dual_rate(const std::string& input, const DualRateOptions& options, const std::string& out_dir,
                             const decode::DecoderOptions& decoder, bool show_progress,
                             std::array<decode::FrameBatch, 2>* keep = nullptr);

}  // namespace sfvu::cli
