// sfvu/pathways/slowfast_encoder.h: a video -> its Slow and Fast tokens, chunk by chunk.
//
// Usage:
//   auto clip = ClipBundle::load("clip-vit-base-patch32/");
//   SlowFastEncoder encoder(clip, SlowFastOptions::preset("default"));
//   decode::VideoReader reader(decode::Source::path("talk.mp4"));
//   VideoTokens tokens = encoder.encode(reader);      // tokens.layout(): [N, D]
//
// One decode pass serves both pathways: each pathway is a decoder stream resized by the
// decoder to its input size (crop or stretch), and every chunk of `batch` frames goes through
// the backbone as soon as it is decoded, then is dropped. Memory is the tokens kept plus one
// chunk per stream, whatever the video's length (the token budget bounds the tokens).
//
// Thread safety: the encoder is immutable; encode() may run concurrently on different readers
// (the backbone is shared read-only).
#pragma once

#include <memory>
#include <torch/torch.h>

#include "sfvu/base/progress.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/pathways/clip_bundle.h"
#include "sfvu/pathways/slowfast_options.h"
#include "sfvu/pathways/token_planner.h"
#include "sfvu/pathways/video_tokens.h"

namespace sfvu::pathways {

struct EncodeStats {
  decode::DecodeStats decode;
  int64_t frames_slow = 0, frames_fast = 0;  ///< frames that reached each pathway
  int64_t backbone_images = 0;               ///< images through the backbone (shared frames once)
  double backbone_gflop = 0;                 ///< FLOPs spent in the backbone (vision_flops)
  double backbone_seconds = 0;               ///< wall time inside the backbone
  double total_seconds = 0;                  ///< wall time of encode()
};

/// Per-frame output of the backbone for one pathway.
struct PathwayOutput {
  torch::Tensor tokens;  ///< [T, tokens_h, tokens_w, D] float32 CPU
  torch::Tensor embeds;  ///< [T, P] float32 CPU (pooled output if the model has no projection)
};

/// The backbone step every pathway shares, differentiable (training runs it with grad on,
/// the encoder under NoGradGuard): uint8 frames [T, S, S, 3] -> hidden state `layer`
/// (0..num_layers) as a patch grid [T, grid_h, grid_w, D] in the model's dtype and device.
/// `embeds`, if given, receives the projected CLS [T, P] (pooled output if no projection).
torch::Tensor backbone_grid(ClipModel model, const ClipImageProcessor& processor, int layer, const torch::Tensor& frames,
                            torch::Tensor* embeds = nullptr);

class SlowFastEncoder {
 public:
  SlowFastEncoder(ClipBundle clip, SlowFastOptions options);

  const SlowFastOptions& options() const { return options_; }
  const ClipBundle& clip() const { return clip_; }
  /// The hidden-state index tokens come from (0..num_layers).
  int layer_index() const { return layer_; }

  /// The plan for this input (its duration and, for sf-llava, its frame index).
  SlowFastPlan plan(const decode::VideoReader& reader) const;

  /// Decodes and encodes `reader`'s video along plan(reader). `progress` may cancel (throws
  /// Cancelled). Throws what the decoder throws; frames the decoder cannot serve are left
  /// out (stats.decode has the counts).
  VideoTokens encode(decode::VideoReader& reader, const ProgressCallback& progress = {},
                     EncodeStats* stats = nullptr) const;
  VideoTokens encode(decode::VideoReader& reader, const SlowFastPlan& plan, const ProgressCallback& progress = {},
                     EncodeStats* stats = nullptr) const;

  /// The backbone and pooling for frames already at the pathway's input size:
  /// uint8 [T, S, S, 3] (S = pathway.input_size) -> tokens and embeddings.
  PathwayOutput encode_frames(const torch::Tensor& frames, const PathwayPlan& pathway) const;
  /// Pools backbone grids [T, grid_h, grid_w, D] as `pathway` says.
  static torch::Tensor pool(const torch::Tensor& grid, const PathwayPlan& pathway);

 private:
  ClipBundle clip_;
  SlowFastOptions options_;
  int layer_ = 0;
};

/// encode() in two halves, for callers that decode on one thread and run the backbone on
/// another (the batch's prefetch, apps/src/video_prefetch.h): requests() are what to ask the
/// decoder for; each chunk it delivers goes to add() (the backbone runs there); finish() gives
/// the tokens. Same tokens as encode(reader, plan). One assembler per video, one thread at a time.
class TokenAssembler {
 public:
  /// `encoder` must outlive the assembler.
  TokenAssembler(const SlowFastEncoder& encoder, SlowFastPlan plan);
  ~TokenAssembler();
  TokenAssembler(const TokenAssembler&) = delete;
  TokenAssembler& operator=(const TokenAssembler&) = delete;

  const std::vector<decode::StreamRequest>& requests() const { return requests_; }
  const SlowFastPlan& plan() const { return plan_; }
  /// Encodes one decoded chunk of requests()[chunk.stream].
  void add(const decode::FrameChunk& chunk);
  /// The tokens of every chunk added, in time order; `stats` (optional) gets the counts, with
  /// `decode_stats` as its decode part. Call once.
  VideoTokens finish(const decode::DecodeStats& decode_stats, EncodeStats* stats = nullptr);

 private:
  struct Impl;
  const SlowFastEncoder& encoder_;
  SlowFastPlan plan_;
  std::vector<decode::StreamRequest> requests_;
  std::unique_ptr<Impl> impl_;
  EncodeStats stats_;
  double start_ = 0;
};

}  // namespace sfvu::pathways
