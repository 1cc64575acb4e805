// sfvu/grounding/video_pipeline.h: model folder -> per-video sessions -> grounding and QA.
//
// Usage:
//   auto pipeline = VideoPipeline::load("clip-vit-base-patch32/", PipelineOptions{});
//   auto session = pipeline->open("talk.mp4");         // decodes + encodes once (or cache hit)
//   GroundingResult g = session->ground("a man waves");  // any number of queries
//   QaResult a = session->answer("what is he holding?", {"a cup", "a phone", "a ball"});
//
// Model and session are separate (../shared/STYLE.md rule 4): the pipeline holds the weights
// and is immutable and shareable across threads; a session holds one video's tokens.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sfvu/base/progress.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/grounding/training_free_head.h"
#include "sfvu/grounding/video_head.h"
#include "sfvu/pathways/slowfast_encoder.h"

namespace sfvu::grounding {

struct PipelineOptions {
  pathways::SlowFastOptions slowfast;
  TrainingFreeOptions head;
  std::string cache_dir;            ///< token cache folder; "" = no cache
  decode::DecoderOptions decoder;
  torch::Dtype dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
};

class VideoSession;

class VideoPipeline : public std::enable_shared_from_this<VideoPipeline> {
 public:
  /// Loads `model_dir`: a CLIP folder (Hugging Face layout) gives the training-free head; a
  /// trained model folder (learned_model.h) gives its learned head, sampled with the SlowFast
  /// options it was trained with (options.slowfast is replaced by the model's).
  /// Throws IoError / FormatError naming the folder and the problem.
  static std::shared_ptr<const VideoPipeline> load(const std::string& model_dir, const PipelineOptions& options);
  /// Build with std::make_shared: sessions keep the pipeline alive.
  VideoPipeline(std::shared_ptr<const pathways::ClipBundle> clip, std::shared_ptr<const VideoHead> head,
                PipelineOptions options);

  /// Opens `video` and gets its tokens: from the cache when valid, else by decoding and
  /// encoding (then stored). Throws what the decoder throws (IoError/FormatError naming the
  /// file), Cancelled when `progress` returns false.
  std::unique_ptr<VideoSession> open(const std::string& video, const ProgressCallback& progress = {}) const;
  /// The same for an already opened reader (live or in-memory inputs: never cached).
  std::unique_ptr<VideoSession> open(decode::VideoReader& reader, const std::string& name,
                                     const ProgressCallback& progress = {}) const;

  /// open(video) in parts, for callers that decode on other threads (the batch's prefetch):
  /// the cached session of `video`, if the cache has valid tokens for it (nullptr otherwise);
  std::unique_ptr<VideoSession> open_cached(const std::string& video) const;
  /// the session of tokens encoded elsewhere along `plan` (pathways::TokenAssembler), stored in
  /// the cache when `video` is a cacheable file. Throws FormatError when no frame was decoded.
  std::unique_ptr<VideoSession> adopt(const std::string& video, pathways::VideoTokens tokens,
                                      const pathways::SlowFastPlan& plan, const pathways::EncodeStats& stats) const;

  /// Pre-extracted tokens (`sfvu tokens`): the file save_tokens() wrote, checked against this
  /// pipeline's token_key() (FormatError naming the file when they were made with another
  /// model or other SlowFast options, or when the file is damaged).
  std::unique_ptr<VideoSession> open_tokens(const std::string& tokens_file, const std::string& name) const;
  /// Writes `session`'s tokens to `path` (safetensors, atomic) with token_key() and the video's
  /// name in the metadata.
  void save_tokens(const std::string& path, const VideoSession& session) const;
  /// What tokens depend on: the SlowFast options, the backbone's fingerprint, the dtype (the
  /// token cache's key too).
  std::string token_key() const;

  const PipelineOptions& options() const { return options_; }
  const pathways::SlowFastEncoder& encoder() const { return encoder_; }
  const VideoHead& head() const { return *head_; }
  const pathways::ClipBundle& clip() const { return *clip_; }

 private:
  std::optional<pathways::TokenCache> cache_for(const std::string& video) const;
  std::unique_ptr<VideoSession> make_session(const std::string& name, pathways::VideoTokens tokens,
                                             const pathways::SlowFastPlan& plan,
                                             const pathways::EncodeStats& stats) const;

  std::shared_ptr<const pathways::ClipBundle> clip_;
  std::shared_ptr<const VideoHead> head_;
  PipelineOptions options_;
  pathways::SlowFastEncoder encoder_;
};

class VideoSession {
 public:
  VideoSession(std::shared_ptr<const VideoPipeline> pipeline, std::string video, pathways::VideoTokens tokens);
  GroundingResult ground(const std::string& query) const { return pipeline_->head().ground(tokens_, query); }
  QaResult answer(const std::string& question, const std::vector<std::string>& options) const {
    return pipeline_->head().answer(tokens_, question, options);
  }
  const std::string& video() const { return video_; }
  const pathways::VideoTokens& tokens() const { return tokens_; }
  bool from_cache = false;        ///< tokens came from the token cache
  std::string plan;               ///< SlowFastPlan::describe() of the encoding (empty if cached)
  pathways::EncodeStats stats;    ///< zero when cached

 private:
  std::shared_ptr<const VideoPipeline> pipeline_;
  std::string video_;
  pathways::VideoTokens tokens_;
};

}  // namespace sfvu::grounding
