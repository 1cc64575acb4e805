// sfvu qa --model DIR --question Q --options "A|B|C|D" (VIDEO|DIR|PATTERN)... [--list FILE]
//         [--out FILE.jsonl [--resume]] [--shard I/N] [--jobs N]
//
// One JSON line per video: {"video", "question", "options", "answer_index", "probabilities"}.
// A video that fails gives {"video", "error"} and the batch goes on (exit 3 at the end).
#include <iostream>

#include "commands.h"
#include "pipeline_options.h"
#include "sfvu/base/error.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

std::vector<std::string> split_options(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t bar = text.find('|', start);
    std::string o = text.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    const size_t a = o.find_first_not_of(" \t"), b = o.find_last_not_of(" \t");
    out.push_back(a == std::string::npos ? "" : o.substr(a, b - a + 1));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  for (const auto& o : out)
    if (o.empty()) throw UsageError("qa: --options has an empty option in '" + text + "'");
  if (out.size() < 2) throw UsageError("qa: --options needs at least two options separated by '|'");
  return out;
}

}  // namespace

int cmd_qa(const Args& args) {
  po::options_description desc("qa options");
  desc.add_options()("question", po::value<std::string>()->required(), "the question")
      ("options", po::value<std::string>()->required(), "the answers, separated by '|'")
      ("video", po::value<std::vector<std::string>>(), "video files, folders (recursive) or glob patterns")
      ("out", po::value<std::string>()->default_value(""), "JSON lines file (default: stdout)")
      ("quiet,q", "no progress on stderr");
  add_batch_options(desc);
  add_pipeline_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("qa",
                  "--model DIR --question Q --options \"A|B|C|D\" (VIDEO|DIR|PATTERN)... [--list FILE] "
                  "[--out FILE.jsonl] [--resume] [--shard I/N] [--jobs N]",
                  args, desc, pos, vm))
    return 0;
  const std::string question = vm["question"].as<std::string>();
  const auto options = split_options(vm["options"].as<std::string>());
  BatchOptions batch = batch_options(vm, "qa");
  const auto videos = batch_inputs(vm, vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{},
                                   "qa", batch.progress);
  JsonLinesOut out(vm["out"].as<std::string>(), vm.count("resume") > 0, key_by_video("question"), "qa");
  std::vector<BatchItem> items;
  for (const auto& v : videos) {
    if (out.has(video_key(v, question))) ++batch.skipped;
    else items.push_back({v, v, ""});
  }
  if (items.empty()) {
    if (batch.progress) std::cerr << "sfvu qa: nothing to do: " << out.name() << " has every result\n";
    return 0;
  }
  auto pipeline = load_pipeline(vm, pipeline_options(vm));
  return run_video_batch(
             *pipeline, items, batch,
             [&](size_t, const grounding::VideoSession& s) {
               grounding::QaResult r = s.answer(question, options);
               out.write(json{{"video", s.video()},
                              {"question", question},
                              {"options", options},
                              {"answer_index", r.answer_index},
                              {"probabilities", r.probabilities}});
             },
             [&](size_t i, const std::string& error) { out.write(json{{"video", items[i].name}, {"error", error}}); })
      .exit_code();
}

}  // namespace sfvu::cli
