// sfvu extract --model DIR (VIDEO|DIR|PATTERN)... [--list FILE] --out DIR [--jsonl FILE [--resume]]
//              [--clip-seconds 2] [--queries FILE.jsonl] [--shard I/N]
//
// Writes the features the grounding literature shares (../shared/specs/feature_layout.md):
//   DIR/<video stem>.npz  key "features": float32 [n_clips, projection_dim], row i = clip
//                         [i*s, (i+1)*s) seconds, the CLIP image embedding (not normalised:
//                         Moment-DETR's loader normalises) of one frame of the clip;
//   DIR/qid<qid>.npz      keys "last_hidden_state" [n_tokens, D] (valid tokens, SOT..EOT,
//                         after the final LayerNorm, no projection) and "pooler_output" [D].
// Frames go through the reference CLIP preprocessing (PIL-equivalent resize), decoded
// sparsely at native size. One JSON line per video on stdout (or --jsonl); a failure is a
// {"video", "error"} line and the batch goes on (exit 3 if any failed). Videos run one after
// the other (no prefetch: the sparse decode is a small part of the time).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "model_options.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/base/npz.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

void write_features(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& arrays) {
  std::vector<torch::Tensor> keep;
  std::vector<NpzMember> members;
  for (const auto& [name, t] : arrays) {
    keep.push_back(t.to(torch::kCPU, torch::kFloat32).contiguous());
    members.push_back({name, NpyDtype::kFloat32, keep.back().sizes().vec(), keep.back().data_ptr()});
  }
  write_npz(path, members);
}

json extract_video(LoadedClip& clip, const std::string& video, double clip_seconds, bool middle,
                   const std::string& out_dir, const decode::DecoderOptions& dec, int batch,
                   const ProgressCallback& progress) {
  decode::DecoderOptions options = dec;
  options.chunk_frames = batch;  // one forward pass per decoded chunk
  decode::VideoReader reader(decode::Source::path(video), options);
  StopOnSignal stop_on_signal(reader);
  const double duration = reader.info().duration_seconds;
  if (!(duration > 0)) throw FormatError(video + ": unknown duration (live input?): cannot cut into clips");
  const int64_t n_clips = static_cast<int64_t>(std::ceil(duration / clip_seconds - 1e-9));
  std::vector<double> times;
  for (int64_t i = 0; i < n_clips; ++i) {
    double start = double(i) * clip_seconds, end = std::min(duration, start + clip_seconds);
    times.push_back(middle ? (start + end) / 2 : start);
  }
  std::vector<torch::Tensor> rows;
  torch::NoGradGuard no_grad;
  decode::DecodeStats stats = reader.decode(
      {{decode::SamplingPlan::at(times), decode::FrameFormat::native()}},
      [&](decode::FrameChunk&& c) {
        torch::Tensor frames = torch::from_blob(c.rgb.data(), {c.size(), c.height, c.width, 3}, torch::kUInt8);
        rows.push_back(image_features(clip, clip.processor(frames), batch, std::nullopt));
      },
      progress);
  torch::Tensor features = rows.empty() ? torch::zeros({0, clip.model->config().projection_dim}) : torch::cat(rows, 0);
  if (features.size(0) != n_clips)
    log_message(LogLevel::kWarning, video + ": " + std::to_string(features.size(0)) + " of " +
                                        std::to_string(n_clips) + " clips have a frame (damaged or truncated input)");
  const std::string path = (fs::path(out_dir) / (fs::path(video).stem().string() + ".npz")).string();
  write_features(path, {{"features", features}});
  return json{{"video", video},          {"features", path},
              {"n_clips", features.size(0)}, {"dim", features.size(1)},
              {"clip_seconds", clip_seconds}, {"duration_seconds", duration},
              {"decode_errors", stats.decode_errors}, {"frames_decoded", stats.frames_decoded}};
}

// One query line -> qid<qid>.npz. Returns false (after reporting) on a bad line.
bool extract_query(LoadedClip& clip, const std::string& file, int64_t line_no, const std::string& line,
                   const std::string& out_dir) {
  json q;
  try {
    q = json::parse(line);
  } catch (const std::exception& e) {
    std::cerr << "sfvu: error: " << file << ":" << line_no << ": not valid JSON\n";
    return false;
  }
  if (!q.contains("qid") || !q.contains("query") || !q["query"].is_string()) {
    std::cerr << "sfvu: error: " << file << ":" << line_no << ": needs \"qid\" and a string \"query\"\n";
    return false;
  }
  std::string qid = q["qid"].is_string() ? q["qid"].get<std::string>() : q["qid"].dump();
  const auto& tok = clip.require_tokenizer();
  std::vector<int64_t> ids = tok.encode(q["query"].get<std::string>());
  const int64_t n = static_cast<int64_t>(ids.size());
  ids.resize(pathways::ClipTokenizer::kContextLength, 0);
  torch::NoGradGuard no_grad;
  pathways::TextOutput t = clip.model->text(torch::from_blob(ids.data(), {1, int64_t(ids.size())}, torch::kInt64).clone());
  write_features((fs::path(out_dir) / ("qid" + qid + ".npz")).string(),
                 {{"last_hidden_state", t.last_hidden_state[0].slice(0, 0, n)}, {"pooler_output", t.pooled[0]}});
  return true;
}

}  // namespace

int cmd_extract(const Args& args) {
  po::options_description desc("extract options");
  desc.add_options()("video", po::value<std::vector<std::string>>(), "video files, folders (recursive) or glob patterns")
      ("clip-seconds", po::value<double>()->default_value(2.0), "clip length (QVHighlights: 2)")
      ("frame-at", po::value<std::string>()->default_value("start"),
       "frame of each clip: start (as an fps=1/clip-seconds sampler) | middle")
      ("queries", po::value<std::string>(), "JSONL with {\"qid\", \"query\"} per line: text features")
      ("out", po::value<std::string>()->required(), "output directory")
      ("jsonl", po::value<std::string>()->default_value(""), "the per-video JSON lines go here (default: stdout)")
      ("resume", "skip the videos --jsonl already lists (and whose .npz is still there); retry its failures")
      ("quiet,q", "no progress on stderr");
  add_batch_options(desc, /*with_resume=*/false);
  add_model_options(desc);
  add_decoder_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("extract",
                  "--model DIR (VIDEO|DIR|PATTERN)... [--list FILE] --out DIR [--jsonl FILE [--resume]] "
                  "[--clip-seconds 2] [--queries FILE.jsonl] [--shard I/N]",
                  args, desc, pos, vm))
    return 0;
  const double clip_seconds = vm["clip-seconds"].as<double>();
  if (!(clip_seconds > 0)) throw UsageError("extract: --clip-seconds must be > 0");
  const std::string frame_at = vm["frame-at"].as<std::string>();
  if (frame_at != "start" && frame_at != "middle") throw UsageError("extract: --frame-at must be start or middle");
  BatchOptions batch = batch_options(vm, "extract");
  const auto positional = vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{};
  std::vector<std::string> videos;
  if (!positional.empty() || vm.count("list")) videos = batch_inputs(vm, positional, "extract", batch.progress);
  if (videos.empty() && !vm.count("queries")) throw UsageError("extract: give videos and/or --queries");
  const std::string out_dir = vm["out"].as<std::string>();
  JsonLinesOut out(vm["jsonl"].as<std::string>(), vm.count("resume") > 0, key_by_video_file("features"), "extract");
  ModelOptions mo = model_options(vm);
  LoadedClip clip = load_clip(mo);
  make_dir(out_dir);

  // <stem>.npz names the features (the Moment-DETR convention).
  const std::vector<BatchItem> items = per_file_items(videos, out, out_dir, ".npz", batch);
  int failures = 0;
  if (!items.empty()) {
    const decode::DecoderOptions dec = decoder_options(vm);
    failures += int(run_batch(
                        items, batch,
                        [&](size_t i, const ProgressCallback& progress) -> int64_t {
                          json line = extract_video(clip, items[i].path, clip_seconds, frame_at == "middle", out_dir, dec,
                                                    mo.batch, progress);
                          const int64_t frames = line["frames_decoded"].get<int64_t>();
                          out.write(line);
                          return frames;
                        },
                        [&](size_t i, const std::string& error) {
                          out.write(json{{"video", items[i].name}, {"error", error}});
                        })
                        .failed);
  } else if (!videos.empty() && batch.progress) {
    std::cerr << "sfvu extract: nothing to do: " << out.name() << " lists every video\n";
  }
  if (vm.count("queries")) {
    const std::string file = vm["queries"].as<std::string>();
    std::ifstream in(file);
    if (!in) throw IoError(file + ": cannot open");
    std::string line;
    int64_t line_no = 0, written = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (extract_query(clip, file, line_no, line, out_dir)) ++written;
      else ++failures;
    }
    out.write(json{{"queries", file}, {"written", written}, {"out", out_dir}});
  }
  if (failures) std::cerr << "sfvu extract: " << failures << " input(s) failed\n";
  return failures ? kExitSomeFailed : 0;
}

}  // namespace sfvu::cli
