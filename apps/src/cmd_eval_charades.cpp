// sfvu eval charades-sta --gt FILE [--durations CSV] --pred PRED.jsonl
//                        [--convention univtg|2dtan|vslnet] [--out FILE] [--quiet]
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/charades_eval.h"

namespace sfvu::cli {
namespace {

// The human-readable table (stderr): the brief numbers, percent; "-" where undefined.
void print_table(const json& report) {
  const json& brief = report["brief"];
  std::cerr << "charades-sta (" << report["convention"].get<std::string>() << ", "
            << report["n_queries"].get<int64_t>() << " queries, GT "
            << (report["gt_clipped"].get<bool>() ? "clipped" : "raw") << ")\n";
  std::string head, row;
  for (auto it = brief.begin(); it != brief.end(); ++it) {
    char h[32], v[32];
    std::snprintf(h, sizeof(h), " %8s", it.key().c_str());
    if (it->is_number())
      std::snprintf(v, sizeof(v), " %8.2f", it->get<double>());
    else
      std::snprintf(v, sizeof(v), " %8s", "-");
    head += h;
    row += v;
  }
  std::cerr << head << "\n" << row << "\n";
}

}  // namespace

int eval_charades_sta(const Args& args) {
  const grounding::CharadesEvalOptions defaults;
  po::options_description desc("eval charades-sta options");
  desc.add_options()("gt", po::value<std::string>()->required(),
                     "GT: charades_sta_test.txt (VID S E##sentence) or Moment-DETR jsonl")
      ("durations", po::value<std::string>(), "Charades_v1_*.csv (id, length): clips the .txt GT end; without it the .txt GT is raw")
      ("pred", po::value<std::string>()->required(), "predictions JSON lines (qid, pred_relevant_windows [[s, e, score], ...])")
      ("convention", po::value<std::string>()->default_value(grounding::to_string(defaults.convention)),
       "univtg (>=, raw top 5, mAP) | 2dtan (>, NMS before R@5) | vslnet (top 1, >=)")
      ("nms-threshold", po::value<double>()->default_value(defaults.nms_threshold),
       "2dtan only: NMS overlap threshold (1.0 disables NMS)")
      ("out", po::value<std::string>(), "also write the metrics JSON to this file")
      ("quiet", "no table on stderr");
  po::variables_map vm;
  if (!parse_args("eval charades-sta",
                  "--gt FILE [--durations CSV] --pred PRED.jsonl [--convention univtg|2dtan|vslnet] [--out FILE] [--quiet]",
                  args, desc, po::positional_options_description(), vm))
    return 0;
  grounding::CharadesEvalOptions options;
  options.convention = grounding::parse_charades_convention(vm["convention"].as<std::string>());
  options.nms_threshold = vm["nms-threshold"].as<double>();
  if (!(options.nms_threshold >= 0 && options.nms_threshold <= 1))
    throw UsageError("--nms-threshold: expected a value in [0, 1]");
  const std::string durations = vm.count("durations") ? vm["durations"].as<std::string>() : "";
  const auto gt = grounding::load_charades_gt(vm["gt"].as<std::string>(), durations);
  const auto preds = grounding::load_charades_predictions(vm["pred"].as<std::string>(), gt);
  const json out = grounding::evaluate_charades(gt, preds, options);
  if (vm.count("out")) write_json_file(vm["out"].as<std::string>(), out);
  std::cout << out.dump(4) << std::endl;
  if (!vm.count("quiet")) print_table(out);
  return 0;
}

}  // namespace sfvu::cli
