// sfvu eval qvhighlights --gt GT.jsonl --pred PRED.jsonl [--out metrics.json] [--quiet]
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/qvhighlights_eval.h"

namespace sfvu::cli {
namespace {

// The human-readable table (stderr): percentages, 2 decimals, like the JSON.
void print_table(const grounding::QvMetrics& m) {
  auto pct = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%7.2f", 100 * v);
    return std::string(buf);
  };
  if (m.has_mr) {
    std::cerr << "moment retrieval     queries   R1@0.5  R1@0.7   mAP@0.5 mAP@0.75  mAP-avg\n";
    for (const auto& b : m.buckets) {
      char name[32];
      std::snprintf(name, sizeof(name), "  %-8s %14lld", b.name.c_str(), static_cast<long long>(b.n_queries));
      std::cerr << name << "  " << pct(b.r1[0]) << " " << pct(b.r1[4]) << "   " << pct(b.map[0]) << "  "
                << pct(b.map[5]) << "  " << pct(b.map_average) << "\n";
    }
  }
  if (m.has_hd) {
    std::cerr << "highlight detection     HL-mAP  HL-Hit1\n";
    for (const auto& h : m.highlight) {
      char name[32];
      std::snprintf(name, sizeof(name), "  min-%-10s (>=%d)", h.name.c_str(), h.min_score);
      std::cerr << name << " " << pct(h.map) << "  " << pct(h.hit1) << "\n";
    }
  }
}

}  // namespace

int eval_qvhighlights(const Args& args) {
  po::options_description desc("eval qvhighlights options");
  desc.add_options()("gt", po::value<std::string>()->required(), "ground truth JSON lines (highlight_val_release.jsonl)")
      ("pred", po::value<std::string>()->required(), "submission JSON lines (qid, pred_relevant_windows, pred_saliency_scores)")
      ("out", po::value<std::string>(), "also write the metrics JSON to this file")
      ("quiet", "no table on stderr");
  po::variables_map vm;
  if (!parse_args("eval qvhighlights", "--gt GT.jsonl --pred PRED.jsonl [--out metrics.json] [--quiet]", args, desc,
                  po::positional_options_description(), vm))
    return 0;
  const auto gt = grounding::load_qvhighlights_gt(vm["gt"].as<std::string>());
  const auto pred = grounding::load_qvhighlights_predictions(vm["pred"].as<std::string>());
  const grounding::QvMetrics metrics = grounding::evaluate_qvhighlights(gt, pred);
  const json out = grounding::qvhighlights_metrics_json(metrics);
  if (vm.count("out")) write_json_file(vm["out"].as<std::string>(), out);
  std::cout << out.dump(4) << std::endl;
  if (!vm.count("quiet")) print_table(metrics);
  return 0;
}

}  // namespace sfvu::cli
