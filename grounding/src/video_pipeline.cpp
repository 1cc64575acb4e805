#include "sfvu/grounding/video_pipeline.h"

#include <filesystem>
#include <map>

#include "sfvu/grounding/learned_head.h"

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

std::string VideoPipeline::token_key() const {
  return options_.slowfast.describe() + "|model=" + clip_->fingerprint + "|dtype=" + std::string(c10::toString(options_.dtype));
}

std::optional<pathways::TokenCache> VideoPipeline::cache_for(const std::string& video) const {
  std::error_code ec;
  // Only regular files are cached (a URL or device has no size/mtime to key on).
  if (options_.cache_dir.empty() || !std::filesystem::is_regular_file(video, ec)) return std::nullopt;
  return pathways::TokenCache(options_.cache_dir);
}

std::unique_ptr<VideoSession> VideoPipeline::open_cached(const std::string& video) const {
  auto cache = cache_for(video);
  if (!cache) return nullptr;
  auto hit = cache->get(video, token_key());
  if (!hit) return nullptr;
  auto s = std::make_unique<VideoSession>(shared_from_this(), video, std::move(*hit));
  s->from_cache = true;
  return s;
}

std::unique_ptr<VideoSession> VideoPipeline::open_tokens(const std::string& tokens_file, const std::string& name) const {
  std::map<std::string, std::string> meta;
  pathways::VideoTokens tokens = pathways::load_video_tokens(tokens_file, &meta);
  const auto key = meta.find("sfvu_token_key");
  if (key == meta.end())
    throw FormatError(tokens_file + ": no sfvu_token_key in the metadata: not written by `sfvu tokens`");
  if (key->second != token_key())
    throw FormatError(tokens_file + ": the tokens were made with '" + key->second + "', this model needs '" +
                      token_key() + "' (re-run `sfvu tokens` with this model)");
  if (tokens.n_fast() == 0 && tokens.n_slow() == 0) throw FormatError(tokens_file + ": holds no frame");
  return std::make_unique<VideoSession>(shared_from_this(), name, std::move(tokens));
}

void VideoPipeline::save_tokens(const std::string& path, const VideoSession& session) const {
  pathways::save_video_tokens(path, session.tokens(), {{"sfvu_token_key", token_key()}, {"video", session.video()}});
}

std::unique_ptr<VideoSession> VideoPipeline::adopt(const std::string& video, pathways::VideoTokens tokens,
                                                   const pathways::SlowFastPlan& plan,
                                                   const pathways::EncodeStats& stats) const {
  auto session = make_session(video, std::move(tokens), plan, stats);
  if (auto cache = cache_for(video)) {
    try {
      cache->put(video, token_key(), session->tokens());
    } catch (const std::exception& e) {
      log_message(LogLevel::kWarning, std::string("token cache not written: ") + e.what());
    }
  }
  return session;
}

std::unique_ptr<VideoSession> VideoPipeline::open(const std::string& video, const ProgressCallback& progress) const {
  if (auto s = open_cached(video)) return s;
  decode::VideoReader reader(decode::Source::path(video), options_.decoder);
  const pathways::SlowFastPlan plan = encoder_.plan(reader);
  pathways::EncodeStats stats;
  pathways::VideoTokens tokens = encoder_.encode(reader, plan, progress, &stats);
  return adopt(video, std::move(tokens), plan, stats);
}

std::unique_ptr<VideoSession> VideoPipeline::open(decode::VideoReader& reader, const std::string& name,
                                                  const ProgressCallback& progress) const {
  const pathways::SlowFastPlan plan = encoder_.plan(reader);
  pathways::EncodeStats stats;
  pathways::VideoTokens tokens = encoder_.encode(reader, plan, progress, &stats);
  return make_session(name, std::move(tokens), plan, stats);
}

std::unique_ptr<VideoSession> VideoPipeline::make_session(const std::string& name, pathways::VideoTokens tokens,
                                                          const pathways::SlowFastPlan& plan,
                                                          const pathways::EncodeStats& stats) const {
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
