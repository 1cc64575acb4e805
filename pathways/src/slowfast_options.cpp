#include "sfvu/pathways/slowfast_options.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sfvu/base/error.h"

namespace sfvu::pathways {

SlowFastOptions SlowFastOptions::preset(const std::string& name) {
  SlowFastOptions o;
  if (name == "default") return o;
  if (name == "sf-llava") {
    // ../shared/specs/slowfast_presets.md: 50 frames squashed to the model's input, the
    // penultimate layer, slow = 10 frames pair-max-pooled, fast = all 50 pooled to 4x4.
    o.sf_llava_sampling = true;
    o.slow = PathwayOptions{1.0, 0, 0, 0, 0, true};
    o.fast = PathwayOptions{1.0, 0, 0, 4, 4, false};
    o.layer = -2;
    o.resize = decode::ResizeMode::kStretch;
    o.token_budget = 0;
    return o;
  }
  throw UsageError("unknown preset '" + name + "' (default | sf-llava)");
}

namespace {

void describe_pathway(std::ostringstream& s, const char* name, const PathwayOptions& p) {
  s << name << "{fps=" << p.fps << ",n=" << p.n_frames << ",size=" << p.input_size << ",pool=" << p.pool_h << "x"
    << p.pool_w << ",pairs=" << p.pair_max_pool << "}";
}

void validate_pathway(const char* name, const PathwayOptions& p) {
  const std::string n = name;
  if (!(p.fps > 0) || !std::isfinite(p.fps)) throw UsageError(n + " fps must be > 0");
  if (p.n_frames < 0) throw UsageError(n + " frame count must be >= 0");
  if (p.input_size < -1) throw UsageError(n + " input size must be >= 0 (or -1: automatic low resolution)");
  if (p.pool_h < 0 || p.pool_w < 0 || (p.pool_h == 0) != (p.pool_w == 0))
    throw UsageError(n + " pool must be HxW with both > 0, or none");
}

}  // namespace

std::string SlowFastOptions::describe() const {
  std::ostringstream s;
  s.precision(17);
  describe_pathway(s, "slow", slow);
  s << ";";
  describe_pathway(s, "fast", fast);
  s << ";layer=" << layer << ";resize=" << static_cast<int>(resize) << ";budget=" << token_budget
    << ";clip=" << clip_seconds << ";sf_llava=" << sf_llava_sampling;
  if (sf_llava_sampling) s << "(" << sf_llava_frames << "," << sf_llava_slow << ")";
  if (fast_flow) s << ";fast_flow=1";  // absent otherwise: keys of tokens made before it stay valid
  return s.str();
}

void SlowFastOptions::validate() const {
  validate_pathway("slow", slow);
  validate_pathway("fast", fast);
  if (token_budget < 0) throw UsageError("token budget must be >= 0 (0 = no limit)");
  if (!(clip_seconds > 0)) throw UsageError("clip seconds must be > 0");
  if (batch <= 0) throw UsageError("batch must be > 0");
  if (sf_llava_sampling && (sf_llava_frames <= 0 || sf_llava_slow <= 0 || sf_llava_slow > sf_llava_frames))
    throw UsageError("sf-llava sampling needs 0 < slow frames <= frames");
}

int low_input_size(const ClipVisionConfig& vision) {
  return vision.patch_size * std::max(4, vision.grid() / 2);
}

int resolve_input_size(const PathwayOptions& options, const ClipVisionConfig& vision) {
  if (options.input_size == 0) return vision.image_size;
  if (options.input_size < 0) return low_input_size(vision);
  return options.input_size;
}

double vision_flops(const ClipVisionConfig& v, int projection_dim, int input_size) {
  const double g = input_size / v.patch_size;
  const double N = g * g, T = N + 1, D = v.hidden_size, I = v.intermediate_size;
  const double patch = 2 * N * (3.0 * v.patch_size * v.patch_size) * D;
  const double layer = 8 * T * D * D + 4 * T * T * D + 4 * T * D * I;
  return patch + v.num_hidden_layers * layer + 2 * D * projection_dim;
}

}  // namespace sfvu::pathways
