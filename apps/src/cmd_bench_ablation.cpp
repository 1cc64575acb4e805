// sfvu bench ablation [--work DIR] [--minutes M] [--pathways slowfast,slow,fast]
//
// The issue-5 proof in one command: generate the synthetic benchmark (train / val / test from
// three different seeds), train one model per pathway setting on the same budget, run each on
// the unseen test split, and score it with the evaluation harness (QVHighlights MR metrics per
// query kind, multiple-choice accuracy per question type). Prints a table on stderr and the
// numbers as JSON on stdout. Existing splits and models under --work are reused, so a run can
// be resumed or re-scored.
#include <filesystem>
#include <map>
#include <set>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/qvhighlights_eval.h"
#include "sfvu/grounding/synth.h"
#include "sfvu/grounding/train_data.h"
#include "sfvu/grounding/trainer.h"
#include "sfvu/grounding/video_pipeline.h"

namespace sfvu::cli {
namespace {
namespace fs = std::filesystem;

struct KindScore {
  double r1_05 = 0, r1_07 = 0, map = 0;
  int64_t n = 0;
};

struct ModelScore {
  std::map<std::string, KindScore> grounding;  ///< per kind + "all"
  std::map<std::string, std::pair<int64_t, int64_t>> qa;  ///< type -> (correct, total); "all"
};

ModelScore score_model(const std::string& model_dir, const std::string& split_dir) {
  grounding::TrainSplit split = grounding::load_split(split_dir);
  grounding::PipelineOptions po;
  auto pipeline = grounding::VideoPipeline::load(model_dir, po);
  grounding::QvGroundTruthFile gt = grounding::load_qvhighlights_gt((fs::path(split_dir) / "annotations.jsonl").string());
  std::map<int64_t, grounding::QvPrediction> pred;
  std::map<int64_t, std::string> kind_of;
  ModelScore s;
  ProgressReporter progress("score " + fs::path(model_dir).filename().string(), true);
  int64_t done = 0;
  for (const auto& v : split.videos) {
    auto session = pipeline->open(v.path);
    for (const auto& q : v.queries) {
      grounding::GroundingResult g = session->ground(q.text);
      grounding::QvPrediction p;
      p.qid = q.qid;
      for (const auto& m : g.moments) p.windows.push_back({m.start_seconds, m.end_seconds, m.score});
      pred[q.qid] = p;
      kind_of[q.qid] = q.kind.empty() ? "all" : q.kind;
    }
    for (const auto& q : v.qa) {
      grounding::QaResult a = session->answer(q.question, q.options);
      const bool ok = a.answer_index == q.answer;
      for (const std::string& k : {q.type.empty() ? std::string("all") : q.type, std::string("all")}) {
        s.qa[k].first += ok;
        s.qa[k].second += 1;
        if (q.type.empty()) break;
      }
    }
    progress({"videos", ++done, int64_t(split.videos.size()), 0});
  }
  std::set<std::string> kinds{"all"};
  for (const auto& [qid, k] : kind_of) kinds.insert(k);
  for (const auto& kind : kinds) {
    grounding::QvGroundTruthFile sub;
    sub.path = gt.path;
    grounding::QvPredictionFile pf;
    pf.has_windows = true;
    for (const auto& q : gt.queries) {
      if (kind != "all" && kind_of[q.qid] != kind) continue;
      grounding::QvGroundTruth g = q;
      g.has_saliency = false;
      sub.queries.push_back(g);
      pf.predictions.push_back(pred.at(q.qid));
    }
    if (sub.queries.empty()) continue;
    grounding::QvMetrics m = grounding::evaluate_qvhighlights(sub, pf);
    const auto& full = m.buckets.front();  // "full"
    // kQvIouThresholds = 0.50, 0.55, ..., 0.95: index 0 is 0.5, index 4 is 0.7.
    s.grounding[kind] = {100 * full.r1[0], 100 * full.r1[4], 100 * full.map_average, int64_t(sub.queries.size())};
  }
  return s;
}

}  // namespace

int bench_ablation(const Args& args) {
  grounding::TrainOptions d;
  po::options_description desc("bench ablation options");
  desc.add_options()("work", po::value<std::string>()->default_value("ablation"), "folder for splits and models")
      ("minutes", po::value<double>()->default_value(d.minutes), "training budget per model")
      ("pathways", po::value<std::string>()->default_value("slowfast,slow,fast"), "settings to train, comma-separated")
      ("train-videos", po::value<int64_t>()->default_value(1000), "training split size")
      ("val-videos", po::value<int64_t>()->default_value(40), "validation split size")
      ("test-videos", po::value<int64_t>()->default_value(60), "test split size")
      ("seeds", po::value<std::string>()->default_value("1,2,3"), "train,val,test seeds (all different)");
  po::variables_map vm;
  if (!parse_args("bench ablation", "[--work DIR] [--minutes M] [--pathways slowfast,slow,fast]", args, desc, {}, vm))
    return 0;
  const std::string work = vm["work"].as<std::string>();
  std::vector<double> seeds = parse_number_list(vm["seeds"].as<std::string>(), "--seeds");
  if (seeds.size() != 3 || seeds[0] == seeds[1] || seeds[1] == seeds[2] || seeds[0] == seeds[2])
    throw UsageError("bench ablation: --seeds needs three different seeds");
  const std::vector<std::pair<std::string, int64_t>> splits{{"train", vm["train-videos"].as<int64_t>()},
                                                            {"val", vm["val-videos"].as<int64_t>()},
                                                            {"test", vm["test-videos"].as<int64_t>()}};
  for (size_t i = 0; i < splits.size(); ++i) {
    const std::string dir = work + "/" + splits[i].first;
    if (fs::exists(dir + "/annotations.jsonl")) continue;
    ProgressReporter progress("synth " + splits[i].first, true);
    grounding::SynthOptions synth;
    synth.extra_queries = i == 0;  // training split only: test keeps exactly the benchmark's queries
    grounding::write_synth_dataset(dir, {splits[i].second, int64_t(seeds[i])}, synth, progress.callback());
  }
  std::vector<std::string> settings;
  for (std::string rest = vm["pathways"].as<std::string>(); !rest.empty();) {
    const size_t comma = rest.find(',');
    settings.push_back(rest.substr(0, comma));
    grounding::parse_pathway_mode(settings.back());
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  json out = json::object();
  std::map<std::string, ModelScore> scores;
  for (const auto& setting : settings) {
    const std::string model = work + "/model-" + setting;
    if (!fs::exists(model + "/config.json")) {
      grounding::TrainOptions o;
      o.data_dir = work + "/train";
      o.val_dir = work + "/val";
      o.out_dir = model;
      o.pathways = grounding::parse_pathway_mode(setting);
      o.minutes = vm["minutes"].as<double>();
      double last = -1e9;
      grounding::train(o, [&](const grounding::TrainProgress& p) {
        if (p.stage == "validate")
          std::fprintf(stderr, "ablation %s: validation @%lld R1@0.5 %.1f R1@0.7 %.1f QA %.1f\n", setting.c_str(),
                       (long long)p.step, p.validation.r1_05, p.validation.r1_07, p.validation.accuracy);
        else if (p.stage == "train" && p.elapsed_seconds - last > 30) {
          std::fprintf(stderr, "ablation %s: step %lld/%lld loss %.3f\n", setting.c_str(), (long long)p.step,
                       (long long)p.total_steps, p.loss);
          last = p.elapsed_seconds;
        }
        return true;
      });
    }
    scores[setting] = score_model(model, work + "/test");
  }
  std::fprintf(stderr, "\n%-9s | %-13s | %-13s | %-13s | %-13s | %-6s %-6s %-6s\n", "pathways", "motion R1@.5/.7",
               "detail R1@.5/.7", "short R1@.5/.7", "all R1@.5/.7", "QA mot", "QA det", "QA all");
  for (const auto& setting : settings) {
    const ModelScore& s = scores[setting];
    json j;
    std::fprintf(stderr, "%-9s |", setting.c_str());
    for (const char* k : {"motion", "detail", "short", "all"}) {
      auto it = s.grounding.find(k);
      KindScore ks = it == s.grounding.end() ? KindScore{} : it->second;
      std::fprintf(stderr, " %6.1f %6.1f |", ks.r1_05, ks.r1_07);
      j["grounding"][k] = {{"R1@0.5", ks.r1_05}, {"R1@0.7", ks.r1_07}, {"mAP", ks.map}, {"queries", ks.n}};
    }
    for (const char* k : {"motion", "detail", "all"}) {
      auto it = s.qa.find(k);
      const double acc = it == s.qa.end() || !it->second.second ? 0 : 100.0 * it->second.first / it->second.second;
      std::fprintf(stderr, " %6.1f", acc);
      j["qa"][k] = acc;
    }
    std::fprintf(stderr, "\n");
    out[setting] = j;
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace sfvu::cli
