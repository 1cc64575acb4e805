// sfvu predict --task grounding|qa --model DIR --annotations FILE --videos DIR --out PRED.jsonl [--resume]
//
// Predictions for a whole benchmark file, one JSON line per query, in the evaluators' formats:
//   grounding: {"qid", "query", "vid", "pred_relevant_windows": [[start, end, score], ...] (best
//              first), "pred_saliency_scores": [one per 2-s clip]}: the QVHighlights submission,
//              also read by `sfvu eval charades-sta`.
//   qa:        {"qid", "vid", "answer_index", "probabilities"} (`sfvu eval mcqa`); a question
//              without an id gets "video" and "question" instead of "qid".
// Annotations: sfvu/grounding/annotations.h (QVHighlights / Charades jsonl, Charades-STA .txt); qa: mcqa_eval.h
// (our qa jsonl, NExT-QA CSV; answers optional). Videos are DIR/<vid>.<extension>; with
// --features DIR, their pre-extracted tokens DIR/<vid>.safetensors (`sfvu encode`) instead,
// or, for a model trained on pre-extracted features, the Moment-DETR / lighthouse feature
// folder (sfvu/grounding/feature_data.h: <vid>.npz per source, qid<qid>.npz per query;
// grounding only).
// --plot (grounding) writes OUT_plots/<vid>_qid<qid>.png per query and adds its path as "plot".
// Queries are grouped by video in the order of first appearance, so each video is decoded and
// encoded once; its lines are written whole and flushed together. --resume continues an
// interrupted file. A video that fails (missing, corrupt) is reported on stderr and in
// PRED.jsonl.errors.jsonl, never in the submission, and the run goes on (exit 3 at the end).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "commands.h"
#include "llm_options.h"
#include "pipeline_options.h"
#include "prediction_writer.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/grounding/annotations.h"
#include "sfvu/grounding/feature_data.h"
#include "sfvu/grounding/learned_head.h"
#include "sfvu/grounding/mcqa_eval.h"
#include "sfvu/pathways/torch_runtime.h"
#include "session_plot.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

/// One prediction to make.
struct PredictItem {
  json qid;         ///< for the errors file: the qid, or the question text of a QA question without one
  std::string key;  ///< prediction_key(): what --resume looks for
  std::string vid;
};

struct VideoGroup {
  std::string vid;
  std::vector<size_t> items;  ///< indices into the items, annotation order
};

/// The line of item `index` from its video's session (and the video's plot thumbnails, with --plot).
using LineMaker =
    std::function<json(const grounding::VideoSession&, size_t index, const std::vector<PlotThumbnail>& thumbnails)>;
/// The line of grounding item `index` from its result.
using GroundingLineMaker =
    std::function<json(size_t index, const grounding::GroundingResult&, const std::vector<PlotThumbnail>& thumbnails)>;

// The items not yet in `out`, grouped by video in the order of each video's first appearance
// among ALL items, so a resumed run writes in the order of an uninterrupted one.
std::vector<VideoGroup> pending_groups(const std::vector<PredictItem>& items, const PredictionFile& out) {
  std::vector<VideoGroup> groups;
  std::map<std::string, size_t> group_of_vid;
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, added] = group_of_vid.emplace(items[i].vid, groups.size());
    if (added) groups.push_back({items[i].vid, {}});
    if (!out.has(items[i].key)) groups[it->second].items.push_back(i);
  }
  groups.erase(std::remove_if(groups.begin(), groups.end(), [](const VideoGroup& g) { return g.items.empty(); }),
               groups.end());
  return groups;
}

// Note [Submission saliency]
// The QVHighlights evaluator scores floor(duration / 2) clips of 2 s (spec §4.1): it pads a
// shorter list with 0.0, which outranks negative scores, and a longer one lets Hit@1's argmax
// land past the end, where it scores 0. So the list has exactly that many values, from the
// annotation's duration (the one the evaluator uses); without one (Charades .txt), one per 2-s
// clip of the video, the last maybe shorter, as GroundingResult counts them. Clip k takes the
// head's value at its midpoint (2k + 1 s; the last head clip when that is past the end), so any
// --clip-seconds maps onto 2-s clips (with 2 it is saliency[k]); clips starting past the
// decoded video (a file shorter than its annotation) take the lowest score, so padding never
// outranks a real clip.
constexpr double kSubmissionClipSeconds = 2;

std::vector<float> submission_saliency(const grounding::GroundingResult& g, double annotated_duration_seconds) {
  const double clips = annotated_duration_seconds >= 0
                           ? std::floor(annotated_duration_seconds / kSubmissionClipSeconds)
                           : std::ceil(g.duration_seconds / kSubmissionClipSeconds - 1e-9);
  const float lowest = g.saliency.empty() ? 0.f : *std::min_element(g.saliency.begin(), g.saliency.end());
  std::vector<float> out;
  for (int64_t k = 0; k < static_cast<int64_t>(clips); ++k) {
    const double start_seconds = double(k) * kSubmissionClipSeconds;
    if (g.saliency.empty() || start_seconds >= g.duration_seconds - 1e-9) {
      out.push_back(lowest);
      continue;
    }
    const auto i = static_cast<size_t>((start_seconds + kSubmissionClipSeconds / 2) / g.clip_seconds);
    out.push_back(g.saliency[std::min(i, g.saliency.size() - 1)]);
  }
  return out;
}

json grounding_line(const grounding::GroundingQuery& q, const grounding::GroundingResult& g) {
  json windows = json::array();
  for (const auto& m : g.moments) windows.push_back({m.start_seconds, m.end_seconds, m.score});
  // Both evaluators reject an empty window list (the official QVHighlights code crashes on
  // it), so a head that finds no moment predicts the whole video, score 0.
  if (windows.empty()) {
    warn_once("predict-no-moment", "predict: the head found no moment for some queries (qid " + std::to_string(q.qid) +
                                       " first); they predict the whole video");
    windows.push_back({0.0, g.duration_seconds, 0.0});
  }
  return json{{"qid", q.qid},
              {"query", q.query},
              {"vid", q.vid},
              {"pred_relevant_windows", windows},
              {"pred_saliency_scores", submission_saliency(g, q.duration_seconds)}};
}

// Where each video's input is: a video file in --videos, or its tokens in --features.
struct InputFolder {
  std::optional<VideoFolder> videos;
  std::string features;  ///< folder of <vid>.safetensors (`sfvu encode`), when videos is empty
  std::string find(const std::string& vid) const {
    if (videos) return videos->find(vid);
    const std::string path = (std::filesystem::path(features) / (vid + ".safetensors")).string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw IoError("no tokens file " + vid + ".safetensors in " + features);
    return path;
  }
};

// Records a video that failed (stderr and the errors file).
void record_failure(const VideoGroup& group, const std::vector<PredictItem>& items, PredictionErrors& errors,
                    const std::string& error) {
  json qids = json::array();
  for (size_t i : group.items) qids.push_back(items[i].qid);
  std::cerr << "sfvu: predict: video '" << group.vid << "': " << group.items.size() << " queries not predicted\n";
  errors.add(group.vid, qids, error);
}

int finish(const BatchSummary& sum, const PredictionErrors& errors, size_t n_groups) {
  if (errors.count())
    std::cerr << "sfvu predict: " << errors.count() << " of " << n_groups << " videos failed; see " << errors.path()
              << "\n";
  return sum.exit_code();
}

// Opens each video once (prefetched: video_batch.h) or reads its tokens, writes its lines,
// records failures; returns the exit code.
int run_groups(const std::vector<VideoGroup>& groups, const std::vector<PredictItem>& items,
               const grounding::VideoPipeline& pipeline, const InputFolder& folder, const LineMaker& make_line,
               PredictionFile& out, PredictionErrors& errors, const BatchOptions& options, bool plot) {
  std::vector<BatchItem> batch;
  for (const VideoGroup& group : groups) {
    BatchItem item{group.vid, "", ""};
    try {
      item.path = folder.find(group.vid);
    } catch (const IoError& e) {
      item.error = e.what();
    }
    batch.push_back(std::move(item));
  }
  auto each = [&](size_t g, const grounding::VideoSession& session) {
    std::vector<json> lines;
    const std::vector<PlotThumbnail> thumbs =
        plot ? session_thumbnails(session, pipeline.options().decoder) : std::vector<PlotThumbnail>{};
    for (size_t i : groups[g].items) lines.push_back(make_line(session, i, thumbs));
    out.append(lines);
  };
  auto fail = [&](size_t g, const std::string& error) { record_failure(groups[g], items, errors, error); };
  const BatchSummary sum =
      folder.videos ? run_video_batch(pipeline, batch, options, each, fail)
                    : run_batch(batch, options,
                                [&](size_t g, const ProgressCallback&) -> int64_t {
                                  each(g, *pipeline.open_tokens(batch[g].path, groups[g].vid));
                                  return 0;
                                },
                                fail);
  return finish(sum, errors, groups.size());
}

// A model trained on pre-extracted features (Note [Feature input]): each video's clip rows and
// its queries' rows come from the feature folder, nothing is decoded; a missing or malformed
// file fails that video, by name, and the batch goes on.
int run_feature_groups(const std::vector<VideoGroup>& groups, const std::vector<PredictItem>& items,
                       const grounding::GroundingQueries& queries, const grounding::LearnedHead& head,
                       const grounding::FeatureReader& reader, const GroundingLineMaker& make_line,
                       PredictionFile& out, PredictionErrors& errors, const BatchOptions& options) {
  std::vector<BatchItem> batch;
  for (const VideoGroup& group : groups) batch.push_back({group.vid, reader.video_path(0, group.vid), ""});
  const BatchSummary sum = run_batch(
      batch, options,
      [&](size_t g, const ProgressCallback&) -> int64_t {
        const grounding::VideoFeatures video =
            reader.video(groups[g].vid, queries.queries[groups[g].items.front()].duration_seconds);
        std::vector<json> lines;
        for (size_t i : groups[g].items) {
          const grounding::TextBatch query = grounding::query_batch({reader.query(queries.queries[i].qid)});
          lines.push_back(make_line(i, head.ground(video, query), {}));
        }
        out.append(lines);
        return 0;
      },
      [&](size_t g, const std::string& error) { record_failure(groups[g], items, errors, error); });
  return finish(sum, errors, groups.size());
}

}  // namespace

int cmd_predict(const Args& args) {
  // A LLaVA-family model folder: multiple choice through the LLM (predict_llm.cpp).
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if ((args[i] == "--model" || args[i] == "-m") && is_llava_model_dir(args[i + 1])) return predict_qa_llm(args);
  for (const std::string& a : args)
    if (a.rfind("--model=", 0) == 0 && is_llava_model_dir(a.substr(8))) return predict_qa_llm(args);
  po::options_description desc("predict options");
  desc.add_options()("task", po::value<std::string>()->required(), "grounding | qa")
      ("annotations", po::value<std::string>()->required(),
       "grounding: QVHighlights/Charades jsonl or Charades-STA .txt; qa: qa jsonl or NExT-QA CSV")
      ("videos", po::value<std::string>(), "folder of the videos, named <vid>.<extension>")
      ("features", po::value<std::string>(),
       "instead of --videos: folder of pre-extracted tokens <vid>.safetensors (`sfvu encode` with this model); "
       "for a model trained on features, the Moment-DETR feature folder (<source>_features/<vid>.npz, "
       "clip_text_features/qid<qid>.npz)")
      ("out", po::value<std::string>()->required(), "predictions JSON lines (failures: OUT.errors.jsonl)")
      ("resume", "continue an interrupted OUT: skip the qids it has, append the others")
      ("plot", "grounding: a PNG per query in OUT_plots/<vid>_qid<qid>.png (saliency, moments, thumbnails); "
               "each line gets its \"plot\" path")
      ("jobs", po::value<int>()->default_value(1), "decoder threads running ahead of inference")
      ("no-overlap", "decode and encode each video in one go (no prefetch of the next videos)")
      ("no-progress", "no progress on stderr")
      ("quiet,q", "same as --no-progress");
  add_pipeline_options(desc);
  po::variables_map vm;
  if (!parse_args("predict",
                  "--task grounding|qa --model DIR --annotations FILE (--videos DIR | --features DIR) --out PRED.jsonl [--resume]", args,
                  desc, po::positional_options_description(), vm))
    return 0;
  const std::string task = vm["task"].as<std::string>();
  if (task != "grounding" && task != "qa") throw UsageError("--task must be grounding or qa, got '" + task + "'");
  BatchOptions batch = batch_options(vm, "predict");
  const bool progress = batch.progress;
  const grounding::PipelineOptions options = pipeline_options(vm);
  if (vm.count("videos") == vm.count("features")) throw UsageError("predict: give --videos DIR or --features DIR (one of them)");
  InputFolder folder;
  if (vm.count("videos")) folder.videos.emplace(vm["videos"].as<std::string>());
  else folder.features = vm["features"].as<std::string>();
  if (folder.videos == std::nullopt && !std::filesystem::is_directory(folder.features))
    throw UsageError("predict: --features " + folder.features + ": not a folder");
  const std::string model_dir = model_options(vm).model_dir;
  const bool feature_model = grounding::LearnedModelConfig::is_feature_model_dir(model_dir);
  if (feature_model && task != "grounding")
    throw UsageError("predict: " + model_dir + " was trained on pre-extracted features: it does --task grounding only");
  if (feature_model && folder.videos)
    throw UsageError("predict: " + model_dir + " reads pre-extracted features: give --features FEATURE_DIR, not --videos");
  std::shared_ptr<const grounding::LearnedHead> feature_head;
  std::optional<grounding::FeatureReader> feature_reader;
  if (feature_model) {  // loaded before anything is written: a wrong folder leaves no file behind
    const ModelOptions mo = model_options(vm);
    if (mo.threads > 0) pathways::configure_torch_runtime(mo.threads);
    feature_head =
        std::make_shared<const grounding::LearnedHead>(grounding::LearnedModelImpl::load(model_dir, options.device));
    const auto& input = feature_head->model().config().features;
    feature_reader.emplace(grounding::find_feature_layout(folder.features, input.sources), input);
  }

  const std::string out_path = vm["out"].as<std::string>();
  std::string plot_dir;
  if (vm.count("plot")) {
    if (task != "grounding") throw UsageError("predict: --plot is for --task grounding");
    const std::filesystem::path o(out_path);
    plot_dir = (o.parent_path() / (o.stem().string() + "_plots")).string();
    make_dir(plot_dir);
  }
  // The annotations, as items and a line maker over them (kept alive for the run).
  const std::string annotations = vm["annotations"].as<std::string>();
  std::vector<PredictItem> items;
  grounding::GroundingQueries queries;
  grounding::McqaGroundTruth questions;
  LineMaker make_line;
  GroundingLineMaker make_grounding_line;
  if (task == "grounding") {
    queries = grounding::load_grounding_queries(annotations);
    if (queries.n_skipped)
      log_message(LogLevel::kWarning, "predict: " + annotations + ": " + std::to_string(queries.n_skipped) +
                                          " lines with start >= end skipped (the evaluator drops them too)");
    for (const auto& q : queries.queries) items.push_back({q.qid, prediction_key(std::to_string(q.qid), "", ""), q.vid});
    make_grounding_line = [&](size_t i, const grounding::GroundingResult& g, const std::vector<PlotThumbnail>& thumbs) {
      const auto& q = queries.queries[i];
      json line = grounding_line(q, g);
      if (!plot_dir.empty()) {
        const std::string png = (std::filesystem::path(plot_dir) / (q.vid + "_qid" + std::to_string(q.qid) + ".png")).string();
        write_result_plot(png, q.vid, q.query, g, thumbs);
        line["plot"] = path_from_out(png, out_path);
      }
      return line;
    };
    make_line = [&](const grounding::VideoSession& s, size_t i, const std::vector<PlotThumbnail>& thumbs) {
      return make_grounding_line(i, s.ground(queries.queries[i].query), thumbs);
    };
  } else {
    questions = grounding::load_mcqa_gt(annotations, /*require_answer=*/false);
    for (const auto& q : questions.questions)
      items.push_back({q.id.empty() ? json(q.question) : json(q.id), prediction_key(q.id, q.video, q.question), q.video});
    make_line = [&questions](const grounding::VideoSession& s, size_t i, const std::vector<PlotThumbnail>&) {
      const auto& q = questions.questions[i];
      return qa_prediction_line(q, s.answer(q.question, q.options));
    };
  }

  PredictionFile out(vm["out"].as<std::string>(), vm.count("resume") > 0);
  PredictionErrors errors(out.path());
  const std::vector<VideoGroup> groups = pending_groups(items, out);
  size_t to_do = 0;
  for (const auto& g : groups) to_do += g.items.size();
  if (progress)
    std::cerr << "sfvu predict: " << items.size() << " queries, " << to_do << " to do in " << groups.size()
              << " videos (" << items.size() - to_do << " already in " << out.path() << ")\n";
  if (groups.empty()) return 0;
  std::set<std::string> vids;
  for (const auto& item : items) vids.insert(item.vid);
  batch.skipped = int64_t(vids.size() - groups.size());
  if (feature_model)
    return run_feature_groups(groups, items, queries, *feature_head, *feature_reader, make_grounding_line, out, errors,
                              batch);
  auto pipeline = load_pipeline(vm, options);
  return run_groups(groups, items, *pipeline, folder, make_line, out, errors, batch, !plot_dir.empty());
}

}  // namespace sfvu::cli
