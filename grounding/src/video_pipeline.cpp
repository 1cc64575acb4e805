#include "sfvu/grounding/video_pipeline.h"

#include "sfvu/grounding/learned_head.h"

#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"

namespace sfvu::grounding {

std::shared_ptr<const VideoPipeline> VideoPipeline::load(const std::string& model_dir, const PipelineOptions& options) {
  if (LearnedModelConfig::is_learned_model_dir(model_dir)) {
    // A trained model samples and pools exactly as it was trained: its own SlowFast options.
    auto model = LearnedModelImpl::load(model_dir, options.device);
    PipelineOptions learned = options;
    learned.slowfast = model->config().slowfast;
    learned.dtype = torch::kFloat32;
    auto clip = std::make_shared<const pathways::ClipBundle>(model->bundle(model_dir));
    auto head = std::make_shared<const LearnedHead>(model);
    return std::make_shared<const VideoPipeline>(clip, head, learned);
  }
  auto clip = std::make_shared<const pathways::ClipBundle>(
      pathways::ClipBundle::load(model_dir, options.dtype, options.device));
  auto head = std::make_shared<const TrainingFreeHead>(clip, options.head);
  return std::make_shared<const VideoPipeline>(clip, head, options);
}

VideoPipeline::VideoPipeline(std::shared_ptr<const pathways::ClipBundle> clip, std::shared_ptr<const VideoHead> head,
                             PipelineOptions options)
    : clip_(std::move(clip)), head_(std::move(head)), options_(std::move(options)), encoder_(*clip_, options_.slowfast) {}

std::unique_ptr<VideoSession> VideoPipeline::open(const std::string& video, const ProgressCallback& progress) const {
  const std::string key = options_.slowfast.describe() + "|model=" + clip_->fingerprint +
                          "|dtype=" + std::string(c10::toString(options_.dtype));
  std::optional<pathways::TokenCache> cache;
  std::error_code ec;
  // Only regular files are cached (a URL or device has no size/mtime to key on).
  if (!options_.cache_dir.empty() && std::filesystem::is_regular_file(video, ec)) cache.emplace(options_.cache_dir);
  if (cache) {
    if (auto hit = cache->get(video, key)) {
      auto s = std::make_unique<VideoSession>(shared_from_this(), video, std::move(*hit));
      s->from_cache = true;
      return s;
    }
  }
  decode::VideoReader reader(decode::Source::path(video), options_.decoder);
  auto session = open(reader, video, progress);
  if (cache) {
    try {
      cache->put(video, key, session->tokens());
    } catch (const std::exception& e) {
      log_message(LogLevel::kWarning, std::string("token cache not written: ") + e.what());
    }
  }
  return session;
}

std::unique_ptr<VideoSession> VideoPipeline::open(decode::VideoReader& reader, const std::string& name,
                                                  const ProgressCallback& progress) const {
  pathways::SlowFastPlan plan = encoder_.plan(reader);
  pathways::EncodeStats stats;
  pathways::VideoTokens tokens = encoder_.encode(reader, plan, progress, &stats);
  if (tokens.n_fast() == 0 && tokens.n_slow() == 0)
    throw FormatError(name + ": no frame could be decoded" +
                      (stats.decode.last_error.empty() ? std::string() : ": " + stats.decode.last_error));
  auto s = std::make_unique<VideoSession>(shared_from_this(), name, std::move(tokens));
  s->plan = plan.describe();
  s->stats = stats;
  return s;
}

VideoSession::VideoSession(std::shared_ptr<const VideoPipeline> pipeline, std::string video, pathways::VideoTokens tokens)
    : pipeline_(std::move(pipeline)), video_(std::move(video)), tokens_(std::move(tokens)) {}

}  // namespace sfvu::grounding
