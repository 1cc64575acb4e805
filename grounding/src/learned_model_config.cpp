// config.json of a learned model folder (learned_model.h).
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sfvu/base/choice.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/learned_model.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::grounding {
namespace {

using nlohmann::json;
using pathways::read_json_field;

const json& require(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw FormatError(where + ": missing key '" + key + "'");
  return *it;
}

json pathway_json(const pathways::PathwayOptions& p) {
  return {{"fps", p.fps},       {"n_frames", p.n_frames}, {"input_size", p.input_size},
          {"pool_h", p.pool_h}, {"pool_w", p.pool_w},     {"pair_max_pool", p.pair_max_pool}};
}

pathways::PathwayOptions pathway_from(const json& j, const std::string& where) {
  pathways::PathwayOptions p;
  read_json_field(j, "fps", p.fps, where);
  read_json_field(j, "n_frames", p.n_frames, where);
  read_json_field(j, "input_size", p.input_size, where);
  read_json_field(j, "pool_h", p.pool_h, where);
  read_json_field(j, "pool_w", p.pool_w, where);
  read_json_field(j, "pair_max_pool", p.pair_max_pool, where);
  return p;
}

json slowfast_json(const pathways::SlowFastOptions& o) {
  return {{"slow", pathway_json(o.slow)},
          {"fast", pathway_json(o.fast)},
          {"layer", o.layer},
          {"resize", decode::to_string(o.resize)},
          {"token_budget", o.token_budget},
          {"clip_seconds", o.clip_seconds},
          {"batch", o.batch},
          {"fast_flow", o.fast_flow}};
}

pathways::SlowFastOptions slowfast_from(const json& j, const std::string& where) {
  pathways::SlowFastOptions o;
  if (j.contains("slow")) o.slow = pathway_from(j["slow"], where + " slow");
  if (j.contains("fast")) o.fast = pathway_from(j["fast"], where + " fast");
  read_json_field(j, "layer", o.layer, where);
  std::string resize;
  read_json_field(j, "resize", resize, where);
  if (!resize.empty()) o.resize = decode::parse_resize_mode(resize);
  read_json_field(j, "token_budget", o.token_budget, where);
  read_json_field(j, "clip_seconds", o.clip_seconds, where);
  read_json_field(j, "batch", o.batch, where);
  read_json_field(j, "fast_flow", o.fast_flow, where);  // absent: a model from before Note [Place flow]
  try {
    o.validate();
  } catch (const UsageError& e) {
    throw FormatError(where + ": " + e.what());
  }
  return o;
}

json features_json(const FeatureInputConfig& f) {
  return {{"kind", "features"},
          {"sources", f.sources},
          {"source_dims", f.source_dims},
          {"detail_source", f.detail_source},
          {"query_key", f.query_key},
          {"query_dim", f.query_dim},
          {"normalize", f.normalize},
          {"tef", f.tef},
          {"max_rows", f.max_rows},
          {"max_query_tokens", f.max_query_tokens},
          {"clip_seconds", f.clip_seconds}};
}

FeatureInputConfig features_from(const json& j, const std::string& where) {
  FeatureInputConfig f;
  read_json_field(j, "sources", f.sources, where);
  read_json_field(j, "source_dims", f.source_dims, where);
  read_json_field(j, "detail_source", f.detail_source, where);
  read_json_field(j, "query_key", f.query_key, where);
  read_json_field(j, "query_dim", f.query_dim, where);
  read_json_field(j, "normalize", f.normalize, where);
  read_json_field(j, "tef", f.tef, where);
  read_json_field(j, "max_rows", f.max_rows, where);
  read_json_field(j, "max_query_tokens", f.max_query_tokens, where);
  read_json_field(j, "clip_seconds", f.clip_seconds, where);
  if (f.sources.empty() || f.sources.size() != f.source_dims.size())
    throw FormatError(where + ": 'sources' and 'source_dims' must be non-empty lists of equal length");
  for (int d : f.source_dims)
    if (d <= 0) throw FormatError(where + ": 'source_dims' must be positive");
  if (!f.detail_source.empty() && std::find(f.sources.begin(), f.sources.end(), f.detail_source) == f.sources.end())
    throw FormatError(where + ": 'detail_source' '" + f.detail_source + "' is not one of 'sources'");
  if (f.query_key != "last_hidden_state" && f.query_key != "pooler_output")
    throw FormatError(where + ": 'query_key' must be last_hidden_state or pooler_output, not '" + f.query_key + "'");
  if (f.query_dim <= 0 || f.max_rows <= 0 || f.max_query_tokens <= 0 || !(f.clip_seconds > 0))
    throw FormatError(where + ": 'query_dim', 'max_rows', 'max_query_tokens' and 'clip_seconds' must be positive");
  return f;
}

// The keys of a video model: tokenizer, backbone, pathway sampling.
void read_video_keys(const json& j, const std::string& where, LearnedModelConfig& c) {
  if (j.contains("text")) {
    read_json_field(j["text"], "tokenizer", c.tokenizer, where + " text");
    read_json_field(j["text"], "max_tokens", c.max_text_tokens, where + " text");
  }
  if (std::string problem = choice_problem(c.tokenizer, {"word", "clip"}); !problem.empty())
    throw FormatError(where + ": text.tokenizer " + problem);
  c.backbone = pathways::ClipConfig::from_json_text(require(j, "backbone", where).dump(), where + " backbone");
  if (j.contains("backbone_parts")) {
    read_json_field(j["backbone_parts"], "text", c.backbone_parts.text, where);
    read_json_field(j["backbone_parts"], "visual_projection", c.backbone_parts.visual_projection, where);
    read_json_field(j["backbone_parts"], "text_projection", c.backbone_parts.text_projection, where);
  }
  if (!c.backbone_parts.text) throw FormatError(where + ": the backbone needs its text tower");
  read_json_field(j, "backbone_frozen", c.backbone_frozen, where);
  c.slowfast = slowfast_from(require(j, "slowfast", where), where + " slowfast");
}

}  // namespace

PathwayMode parse_pathway_mode(const std::string& name) {
  if (name == "slowfast") return PathwayMode::kSlowFast;
  if (name == "slow") return PathwayMode::kSlow;
  if (name == "fast") return PathwayMode::kFast;
  throw UsageError("pathways must be slowfast, slow or fast, not '" + name + "'");
}

std::string to_string(PathwayMode mode) {
  switch (mode) {
    case PathwayMode::kSlowFast: return "slowfast";
    case PathwayMode::kSlow: return "slow";
    case PathwayMode::kFast: return "fast";
  }
  return "slowfast";
}

json LearnedModelConfig::to_json() const {
  json j;
  j["sfvu_model"] = kLearnedModelType;
  j["version"] = version();
  j["pathways"] = to_string(pathways);
  if (reads_features()) {
    j["input"] = features_json(features);  // no backbone, tokenizer or sampling
  } else {
    j["text"] = {{"tokenizer", tokenizer}, {"max_tokens", max_text_tokens}};
    j["backbone"] = json::parse(backbone.to_json_text());
    j["backbone_parts"] = {{"text", backbone_parts.text},
                           {"visual_projection", backbone_parts.visual_projection},
                           {"text_projection", backbone_parts.text_projection}};
    j["backbone_frozen"] = backbone_frozen;
    j["slowfast"] = slowfast_json(slowfast);
  }
  j["fusion"] = fusion.to_json();
  j["grounding"] = {{"levels", grounding.levels}};
  if (!reads_features()) j["qa"] = {{"scoring", qa_scoring}, {"option_text", qa_option_text}};
  j["inference"] = {{"clip_seconds", clip_seconds},
                    {"nms_iou", nms_iou},
                    {"max_moments", max_moments},
                    {"moment_saliency", moment_saliency}};
  if (!training.is_null()) j["training"] = training;
  return j;
}

std::string qa_scoring_problem(const std::string& scoring) {
  return choice_problem(scoring, {"option", "question"});
}

LearnedModelConfig LearnedModelConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": expected a JSON object");
  std::string type;
  read_json_field(j, "sfvu_model", type, where);
  if (type != kLearnedModelType) throw FormatError(where + ": 'sfvu_model' is not '" + std::string(kLearnedModelType) + "'");
  int version = 0;
  read_json_field(j, "version", version, where);
  if (version < 1 || version > kLearnedModelVersion)
    throw FormatError(where + ": model version " + std::to_string(version) + " is not supported (this build reads 1.." +
                      std::to_string(kLearnedModelVersion) + ")");
  LearnedModelConfig c;
  std::string mode = "slowfast";
  read_json_field(j, "pathways", mode, where);
  try {
    c.pathways = parse_pathway_mode(mode);
  } catch (const UsageError& e) {
    throw FormatError(where + ": " + e.what());
  }
  if (j.contains("input")) {
    const json& input = j["input"];
    if (!input.is_object()) throw FormatError(where + ": 'input' must be an object");
    read_json_field(input, "kind", c.input, where + " input");
    if (std::string problem = choice_problem(c.input, {"video", "features"}); !problem.empty())
      throw FormatError(where + ": input.kind " + problem);
  }
  if (c.reads_features()) {
    c.features = features_from(j["input"], where + " input");
    if (c.pathways != PathwayMode::kSlowFast)
      throw FormatError(where + ": a feature model has no separate pathways (pathways must be 'slowfast')");
  } else {
    read_video_keys(j, where, c);
  }
  c.fusion = fusion::FusionConfig::from_json(require(j, "fusion", where), where + " fusion");
  if (j.contains("grounding")) read_json_field(j["grounding"], "levels", c.grounding.levels, where + " grounding");
  c.grounding.d_model = c.fusion.d_model;
  c.qa_scoring = "question";
  c.qa_option_text = "question_option";
  if (j.contains("qa")) {
    read_json_field(j["qa"], "scoring", c.qa_scoring, where + " qa");
    read_json_field(j["qa"], "option_text", c.qa_option_text, where + " qa");
    if (std::string problem = qa_scoring_problem(c.qa_scoring); !problem.empty())
      throw FormatError(where + ": qa.scoring " + problem);
    if (std::string problem = choice_problem(c.qa_option_text, {"option", "question_option"}); !problem.empty())
      throw FormatError(where + ": qa.option_text " + problem);
    if (c.qa_scoring == "option" && c.qa_option_text != "question_option")
      throw FormatError(where + ": qa.scoring 'option' fuses 'question option' texts (qa.option_text must be "
                                "'question_option')");
  }
  c.moment_saliency = 0;  // configs without the key rank moments by confidence alone
  if (j.contains("inference")) {
    read_json_field(j["inference"], "clip_seconds", c.clip_seconds, where + " inference");
    read_json_field(j["inference"], "nms_iou", c.nms_iou, where + " inference");
    read_json_field(j["inference"], "max_moments", c.max_moments, where + " inference");
    read_json_field(j["inference"], "moment_saliency", c.moment_saliency, where + " inference");
  }
  if (!(c.moment_saliency >= 0 && c.moment_saliency <= 1))
    throw FormatError(where + ": inference.moment_saliency must be in [0, 1]");
  if (j.contains("training")) c.training = j["training"];
  return c;
}

bool LearnedModelConfig::is_learned_model_dir(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "config.json");
  if (!in) return false;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.value("sfvu_model", "") == kLearnedModelType;
}

bool LearnedModelConfig::is_feature_model_dir(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "config.json");
  if (!in) return false;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.value("sfvu_model", "") == kLearnedModelType && j.contains("input") &&
         j["input"].is_object() && j["input"].value("kind", "") == "features";
}

}  // namespace sfvu::grounding
