#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/pathways/clip_tokenizer.h"

namespace sfvu::cli {

// sfvu tokenize --model DIR TEXT...: one JSON array of ids per text, per line (SOT ... EOT,
// no padding, truncated to 77 with EOT kept).
int cmd_tokenize(const Args& args) {
  po::options_description desc("tokenize options");
  desc.add_options()("model", po::value<std::string>()->required(), "folder with vocab.json and merges.txt")
      ("text", po::value<std::vector<std::string>>()->required(), "texts to tokenize")
      ("context", po::value<int>()->default_value(pathways::ClipTokenizer::kContextLength), "context length");
  po::positional_options_description pos;
  pos.add("text", -1);
  po::variables_map vm;
  if (!parse_args("tokenize", "--model DIR TEXT...", args, desc, pos, vm)) return 0;
  auto tokenizer = pathways::ClipTokenizer::from_pretrained(vm["model"].as<std::string>());
  for (const std::string& text : vm["text"].as<std::vector<std::string>>())
    std::cout << json(tokenizer.encode(text, vm["context"].as<int>())).dump() << "\n";
  return 0;
}

}  // namespace sfvu::cli
