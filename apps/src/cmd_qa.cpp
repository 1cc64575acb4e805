// sfvu qa --model DIR --question Q --options "A|B|C|D" VIDEO...
//
// One JSON line per video: {"video", "question", "options", "answer_index", "probabilities"}.
// A video that fails gives {"video", "error"} and the batch goes on (exit 3 at the end).
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
      ("video", po::value<std::vector<std::string>>(), "video files")
      ("out", po::value<std::string>()->default_value(""), "JSON lines file (default: stdout)")
      ("quiet,q", "no progress on stderr");
  add_pipeline_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("qa", "--model DIR --question Q --options \"A|B|C|D\" VIDEO...", args, desc, pos, vm)) return 0;
  const std::string question = vm["question"].as<std::string>();
  const auto options = split_options(vm["options"].as<std::string>());
  const auto videos = vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (videos.empty()) throw UsageError("qa: give at least one video");
  auto pipeline = load_pipeline(vm, pipeline_options(vm));
  JsonLinesOut out(vm["out"].as<std::string>());
  return run_video_batch("qa", *pipeline, videos, out, !vm.count("quiet"), [&](const grounding::VideoSession& s) {
    grounding::QaResult r = s.answer(question, options);
    out.write(json{{"video", s.video()},
                   {"question", question},
                   {"options", options},
                   {"answer_index", r.answer_index},
                   {"probabilities", r.probabilities}});
  });
}

}  // namespace sfvu::cli
