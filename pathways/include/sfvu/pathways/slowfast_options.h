// sfvu/pathways/slowfast_options.h: what the Slow and Fast pathways sample and how they pool.
// The defaults here are the single source of defaults (the CLI prints them in --help).
//
//   Slow: few frames (fps_slow, default 1) at the backbone's full resolution, the patch grid
//         kept (CLS dropped), optionally pooled.
//   Fast: many frames (fps_fast, default 8), pooled hard (default 4x4 tokens per frame). By
//         default the backbone runs at a LOW input resolution for them (position embeddings
//         interpolated): Note [Low-resolution fast pathway] in slowfast_encoder.cpp.
//
// Both pathways use the same backbone, blocks and code; they differ only in these options.
#pragma once

#include <cstdint>
#include <string>

#include "sfvu/decode/frame_format.h"
#include "sfvu/pathways/clip_config.h"

namespace sfvu::pathways {

struct PathwayOptions {
  double fps = 1.0;            ///< frames per second: t_k = k / fps (the frame displayed at t_k)
  int64_t n_frames = 0;        ///< > 0: exactly this many frames at segment midpoints instead
  /// Backbone input side in pixels: 0 = the model's image_size; -1 = the low-resolution
  /// size low_input_size() picks for the model (fast pathway's default).
  int input_size = 0;
  int pool_h = 0, pool_w = 0;  ///< adaptive average pool of the grid (exact bins); 0 = keep
  bool pair_max_pool = false;  ///< 1x2 max pool of adjacent tokens (SF-LLaVA's slow pooling)
};

struct SlowFastOptions {
  PathwayOptions slow{1.0, 0, 0, 0, 0, false};
  PathwayOptions fast{8.0, 0, -1, 4, 4, false};
  /// Which hidden state the tokens come from: -1 = the last block's output, -2 = the
  /// penultimate (LLaVA's choice), 0..L counted from the embeddings.
  int layer = -1;
  /// How frames reach the square input: kCrop (CLIP: shorter side, centre crop) or kStretch
  /// (SF-LLaVA squashes the whole frame).
  decode::ResizeMode resize = decode::ResizeMode::kCrop;
  /// Most tokens (slow + fast) per video; 0 = no limit. Note [Token budget] in token_planner.h.
  int64_t token_budget = 32768;
  /// The timeline's resolution floor: the budget never thins the fast pathway below one frame
  /// per clip of this length (grounding scores clips of 2 s, as QVHighlights).
  double clip_seconds = 2.0;
  /// SF-LLaVA frame choice: sf_llava_frames frames by frame index (sf_llava_frame_indices),
  /// slow = sf_llava_slow of them (sf_llava_slow_positions), fast = all of them, one backbone
  /// pass shared. The pathways' fps/n_frames are then ignored.
  bool sf_llava_sampling = false;
  int64_t sf_llava_frames = 50;
  int64_t sf_llava_slow = 10;
  int batch = 16;  ///< frames per backbone forward pass
  /// Also measure each fast frame's motion per token place from its pixels (VideoTokens::
  /// fast_flow; Note [Place flow] in place_flow.cpp): models trained with it need it.
  bool fast_flow = false;

  /// "default" (the options above) or "sf-llava" (SlowFast-LLaVA exactly: 50 frames squashed
  /// to the model's size, penultimate layer, slow 10 frames 1x2 max-pooled, fast 4x4, no
  /// budget). Throws UsageError naming the preset otherwise.
  static SlowFastOptions preset(const std::string& name);
  /// Canonical one-line description (used in cache keys and logs): equal options, equal text.
  std::string describe() const;
  /// Throws UsageError on fps <= 0, negative sizes or pools, a non-positive batch.
  void validate() const;
};

/// The fast pathway's automatic low input size for a vision tower: patch * max(4, grid / 2),
/// i.e. a grid at least 4x4 and about half the side (ViT-B/32 224 -> 128, B/16 224 -> 112,
/// L/14-336 -> 168).
int low_input_size(const ClipVisionConfig& vision);

/// The input side `options.input_size` means for this model (0 -> image_size, -1 -> low).
int resolve_input_size(const PathwayOptions& options, const ClipVisionConfig& vision);

/// Multiply-adds x 2 of one image of side `input_size` through the vision tower (patch
/// embedding, blocks, projection); LayerNorm, softmax and activations not counted.
double vision_flops(const ClipVisionConfig& vision, int projection_dim, int input_size);

}  // namespace sfvu::pathways
