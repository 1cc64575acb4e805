// LLaVA video layouts: OneVision's own (projector, bilinear pool to ceil(g/2), one newline per
// video) and SlowFast-LLaVA's (slow frames 1x2 max pooled, every frame 4x4 adaptive average),
// both encoded chunk by chunk so only pooled tokens are ever kept.
#include <algorithm>

#include "sfvu/base/error.h"
#include "sfvu/fusion/llava_model.h"
#include "sfvu/pathways/slowfast_layout.h"

namespace sfvu::fusion {
namespace {

namespace F = torch::nn::functional;

int64_t ceil_half(int64_t n) { return (n + 1) / 2; }

bool has_native_video(const LlavaConfig& c) { return c.model_type == "llava_onevision"; }

void check_native_video(const LlavaConfig& c) {
  if (!has_native_video(c))
    throw UsageError(c.model_type +
                     " has no native video path (only llava_onevision has one); use the slowfast layout");
}

}  // namespace

std::vector<int64_t> slowfast_slow_frames(int64_t n_frames, const SlowFastLayoutOptions& options) {
  const int64_t n_slow = std::min<int64_t>(options.n_slow_frames, n_frames);
  if (n_slow <= 0) return {};
  return pathways::sf_llava_slow_positions(n_frames, n_slow);
}

int64_t LlavaModelImpl::video_token_count(int64_t n_frames, VideoLayout layout,
                                          const SlowFastLayoutOptions& slowfast) const {
  const int64_t g = config_.vision_grid();
  if (layout == VideoLayout::kNative) {
    check_native_video(config_);
    return n_frames * ceil_half(g) * ceil_half(g) + 1;
  }
  const int64_t n_slow = static_cast<int64_t>(slowfast_slow_frames(n_frames, slowfast).size());
  const int64_t per_slow = slowfast.slow_pool_pairs ? g * ceil_half(g) : g * g;
  const int64_t newline = slowfast.append_newline && image_newline_.defined() ? 1 : 0;
  return n_slow * per_slow + n_frames * int64_t(slowfast.fast_grid) * slowfast.fast_grid + newline;
}

torch::Tensor LlavaModelImpl::video_embeds(const torch::Tensor& frames, VideoLayout layout,
                                           const SlowFastLayoutOptions& slowfast, int64_t frames_per_chunk) {
  if (frames.dim() != 4) throw UsageError("video frames must be [T, 3, S, S]");
  VideoEmbedSession session(*this, frames.size(0), layout, slowfast, frames_per_chunk);
  session.add_frames(frames);
  return session.finish();
}

VideoEmbedSession::VideoEmbedSession(LlavaModelImpl& model, int64_t n_frames, VideoLayout layout,
                                     const SlowFastLayoutOptions& slowfast, int64_t frames_per_chunk)
    : model_(model), n_frames_(n_frames), layout_(layout), slowfast_(slowfast), frames_per_chunk_(frames_per_chunk) {
  if (n_frames < 1) throw UsageError("a video needs at least one frame");
  if (frames_per_chunk < 1) throw UsageError("frames_per_chunk must be >= 1");
  if (layout == VideoLayout::kNative) {
    check_native_video(model.config());
  } else {
    if (slowfast.fast_grid < 1 || slowfast.n_slow_frames < 0)
      throw UsageError("slowfast layout: fast_grid must be >= 1 and n_slow_frames >= 0");
    slow_frames_ = slowfast_slow_frames(n_frames, slowfast);
  }
}

void VideoEmbedSession::add_frames(const torch::Tensor& frames) {
  if (frames.dim() != 4) throw UsageError("video frames must be [T, 3, S, S]");
  if (seen_ + frames.size(0) > n_frames_)
    throw UsageError("video session: " + std::to_string(seen_ + frames.size(0)) + " frames added, the video has " +
                     std::to_string(n_frames_));
  for (int64_t i = 0; i < frames.size(0); i += frames_per_chunk_) add_chunk(frames.slice(0, i, i + frames_per_chunk_));
}

void VideoEmbedSession::add_chunk(const torch::Tensor& frames) {
  torch::NoGradGuard no_grad;
  const int64_t t = frames.size(0), g = model_.config().vision_grid();
  torch::Tensor proj = model_.project(model_.image_features(frames));  // [t, N, D]
  const int64_t D = proj.size(2);
  if (proj.size(1) != g * g)
    throw UsageError("video layouts need a square " + std::to_string(g) + "x" + std::to_string(g) +
                     " feature grid per frame, got " + std::to_string(proj.size(1)) + " tokens");
  torch::Tensor grid = proj.view({t, g, g, D}).permute({0, 3, 1, 2});  // [t, D, g, g]
  auto tokens = [D](const torch::Tensor& pooled) {                     // [n, D, h, w] -> [n*h*w, D]
    return pooled.flatten(2).transpose(1, 2).reshape({-1, D});
  };

  if (layout_ == VideoLayout::kNative) {
    // transformers' apply_pooling: after the projector, bilinear (align_corners=False) to ceil(g/2).
    const int64_t h = ceil_half(g);
    fast_parts_.push_back(tokens(F::interpolate(
        grid,
        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, h}).mode(torch::kBilinear).align_corners(false))));
  } else {
    const int64_t fg = slowfast_.fast_grid;
    fast_parts_.push_back(tokens(F::adaptive_avg_pool2d(grid, F::AdaptiveAvgPool2dFuncOptions({fg, fg}))));
    std::vector<int64_t> local;
    for (int64_t f : slow_frames_)
      if (f >= seen_ && f < seen_ + t) local.push_back(f - seen_);
    if (!local.empty()) {
      torch::Tensor slow = grid.index_select(0, torch::tensor(local, torch::kInt64).to(grid.device()));
      // See Note [SlowFast on odd grids].
      if (slowfast_.slow_pool_pairs)
        slow = F::max_pool2d(slow, F::MaxPool2dFuncOptions({1, 2}).stride({1, 2}).ceil_mode(true));
      slow_parts_.push_back(tokens(slow));
    }
  }
  seen_ += t;
}

torch::Tensor VideoEmbedSession::finish() {
  torch::NoGradGuard no_grad;
  if (seen_ != n_frames_)
    throw UsageError("video session: " + std::to_string(seen_) + " of " + std::to_string(n_frames_) +
                     " frames added before finish()");
  std::vector<torch::Tensor> parts = std::move(slow_parts_);
  parts.insert(parts.end(), fast_parts_.begin(), fast_parts_.end());
  fast_parts_.clear();
  const torch::Tensor& newline = model_.image_newline();
  // OneVision's own path always ends with one newline per video; SlowFast when asked and present.
  const bool add_newline = layout_ == VideoLayout::kNative || (slowfast_.append_newline && newline.defined());
  if (add_newline) parts.push_back(newline.view({1, -1}).to(parts.front().scalar_type()));
  return torch::cat(parts, 0);
}

// Note [SlowFast on odd grids]
// SlowFast-LLaVA's slow pathway max-pools consecutive pairs of a frame's row-major tokens
// (MaxPool1d(2)) on CLIP's 24x24 grid: with an even side every pair lies inside one row, so it is
// a 1x2 max pool along rows, 24 x 12 = 288 tokens. OneVision's SigLIP grid is 27x27: the literal
// MaxPool1d(2) over 729 tokens would pair the last token of a row with the first of the next
// (opposite image edges) in every other row and silently drop the 729th token. We pool within
// rows instead: MaxPool2d kernel (1, 2), stride (1, 2), ceil_mode, so the odd last column is kept
// on its own: 27 x 14 = 378 tokens per slow frame. For every even grid this is exactly SF-LLaVA's
// operation (the llava15_llama/slowfast fixture pins it on 6x6); on odd grids it never mixes rows
// and drops nothing. The fast pathway's AdaptiveAvgPool2d((4, 4)) is well defined on 27x27
// (overlapping bins [0,7) [6,14) [13,21) [20,27)). OneVision, 50 frames / 10 slow:
// 10 x 378 + 50 x 16 + 1 newline = 4,581 tokens.

}  // namespace sfvu::fusion
