// sfvu encode --model DIR (VIDEO|DIR|PATTERN)... [--list FILE] --out TOKENS_DIR [--jsonl FILE [--resume]]
//             [--shard I/N] [--jobs N] [pipeline options]
//
// Pre-extracts what a model needs from each video: its Slow and Fast tokens, as
// TOKENS_DIR/<video stem>.safetensors (pathways/video_tokens.h layout, with the model's token
// key in the metadata). `sfvu predict --features TOKENS_DIR` then runs a benchmark without
// decoding a frame, and refuses tokens made with another backbone or other SlowFast options.
// Decoding is the expensive part, so a cluster can encode once (sharded) and many models or
// runs read the result. One JSON line per video: {"video", "tokens", "n_slow", "n_fast",
// "n_tokens", "duration"}; a failure is {"video", "error"} and the batch goes on (exit 3).
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "pipeline_options.h"
#include "sfvu/base/error.h"
#include "video_batch.h"

namespace sfvu::cli {

namespace fs = std::filesystem;

int cmd_encode(const Args& args) {
  po::options_description desc("encode options");
  desc.add_options()("video", po::value<std::vector<std::string>>(), "video files, folders (recursive) or glob patterns")
      ("out", po::value<std::string>()->required(), "folder of the token files (<video stem>.safetensors)")
      ("jsonl", po::value<std::string>()->default_value(""), "the per-video JSON lines go here (default: stdout)")
      ("resume", "skip the videos --jsonl already lists (and whose token file is still there); retry its failures")
      ("quiet,q", "no progress on stderr");
  add_batch_options(desc, /*with_resume=*/false);
  add_pipeline_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("encode",
                  "--model DIR (VIDEO|DIR|PATTERN)... [--list FILE] --out TOKENS_DIR [--jsonl FILE [--resume]] "
                  "[--shard I/N] [--jobs N]",
                  args, desc, pos, vm))
    return 0;
  BatchOptions batch = batch_options(vm, "encode");
  const auto videos = batch_inputs(
      vm, vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{}, "encode",
      batch.progress);
  const std::string out_dir = vm["out"].as<std::string>();
  JsonLinesOut out(vm["jsonl"].as<std::string>(), vm.count("resume") > 0, key_by_video_file("tokens"), "encode");
  const std::vector<BatchItem> items = per_file_items(videos, out, out_dir, ".safetensors", batch);
  if (items.empty()) {
    if (batch.progress) std::cerr << "sfvu encode: nothing to do: " << out.name() << " lists every video\n";
    return 0;
  }
  make_dir(out_dir);
  auto pipeline = load_pipeline(vm, pipeline_options(vm));
  return run_video_batch(
             *pipeline, items, batch,
             [&](size_t, const grounding::VideoSession& s) {
               const std::string path = (fs::path(out_dir) / (fs::path(s.video()).stem().string() + ".safetensors")).string();
               pipeline->save_tokens(path, s);
               const auto& t = s.tokens();
               out.write(json{{"video", s.video()},   {"tokens", path},           {"n_slow", t.n_slow()},
                              {"n_fast", t.n_fast()}, {"n_tokens", t.n_tokens()}, {"duration", t.duration_seconds}});
             },
             [&](size_t i, const std::string& error) { out.write(json{{"video", items[i].name}, {"error", error}}); })
      .exit_code();
}

}  // namespace sfvu::cli
