// sfvu eval mcqa --gt GT.jsonl|GT.csv --pred qa.jsonl [--out FILE] [--quiet]
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/mcqa_eval.h"

namespace sfvu::cli {

int eval_mcqa(const Args& args) {
  po::options_description desc("eval mcqa options");
  desc.add_options()("gt", po::value<std::string>()->required(),
                     "GT: jsonl {video, question, options, answer, type} or NExT-QA CSV (video, question, answer, a0..a4, type)")
      ("pred", po::value<std::string>()->required(), "predictions JSON lines {qid | video+question, answer_index}")
      ("out", po::value<std::string>(), "also write the metrics JSON to this file")
      ("quiet", "no table on stderr");
  po::variables_map vm;
  if (!parse_args("eval mcqa", "--gt FILE --pred FILE [--out FILE] [--quiet]", args, desc,
                  po::positional_options_description(), vm))
    return 0;
  const auto gt = grounding::load_mcqa_gt(vm["gt"].as<std::string>());
  const auto pred = grounding::load_mcqa_predictions(vm["pred"].as<std::string>(), gt);
  const json out = grounding::evaluate_mcqa(gt, pred);
  if (vm.count("out")) write_json_file(vm["out"].as<std::string>(), out);
  std::cout << out.dump(4) << std::endl;
  if (!vm.count("quiet")) {
    std::cerr << "multiple-choice QA (" << out["n_questions"].get<int64_t>() << " questions)\n";
    for (auto it = out["brief"].begin(); it != out["brief"].end(); ++it) {
      char line[96];
      std::snprintf(line, sizeof(line), "  %-10s %7.2f\n", it.key().c_str(), it->get<double>());
      std::cerr << line;
    }
  }
  return 0;
}

}  // namespace sfvu::cli
