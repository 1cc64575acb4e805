// sfvu train --data DIR --out MODEL_DIR [--val DIR] [--pathways slowfast|slow|fast]
//            [--minutes M] [--steps N] [--init scratch|clip:DIR] [--resume]
//            [--features FEATURE_DIR [--feature-sources slowfast,clip]]
//
// Trains the learned fusion + heads (and the from-scratch backbone) on a split folder
// (annotations.jsonl, qa.jsonl, videos/), validating periodically on --val; the best
// validation checkpoint is MODEL_DIR, the resumable state MODEL_DIR/train_state/. Progress on
// stderr, a JSON summary on stdout. Ctrl-C saves the state (then --resume continues).
// A split folder without videos/ that holds Moment-DETR / lighthouse features (or any split,
// with --features) trains a feature model instead (sfvu/grounding/feature_data.h).
#include <sstream>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <malloc.h>

#include "commands.h"
#include "cli_common.h"
#include "sfvu/base/choice.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/trainer.h"
#include "sfvu/pathways/torch_runtime.h"

namespace sfvu::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_train_signal(int) { g_stop = true; }

std::string clock_text(double seconds) {
  const int s = int(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

// Note [Training allocator]
// Every step allocates and frees the same few hundred MB of activations and gradients. With
// glibc's defaults, blocks above the (dynamic) mmap threshold are mapped and unmapped each
// time and the heap top is trimmed back to the kernel, so each step page-faults its memory in
// again: measured on the 2-core machine, a third of a step's time was kernel time. Training
// keeps freed memory in the process instead (largest mmap threshold glibc accepts, no trim).
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
}

}  // namespace

int cmd_train(const Args& args) {
  keep_freed_memory();
  grounding::TrainOptions d;
  po::options_description desc("train options");
  desc.add_options()("data", po::value<std::string>()->required(), "training split folder: annotations.jsonl with videos/ (and qa.jsonl), or with pre-extracted features")
      ("out", po::value<std::string>()->required(), "model folder to write")
      ("val", po::value<std::string>()->default_value(""), "validation split folder (best checkpoint kept)")
      ("pathways", po::value<std::string>()->default_value("slowfast"), "slowfast | slow | fast")
      ("minutes", po::value<double>()->default_value(d.minutes), "wall-time budget")
      ("steps", po::value<int64_t>()->default_value(d.steps), "fixed step count (0 = fit --minutes)")
      ("init", po::value<std::string>()->default_value(d.init), "scratch | clip:DIR")
      ("resume", "continue MODEL_DIR/train_state")
      ("features", po::value<std::string>()->default_value(""),
       "pre-extracted features for --data and --val (slowfast_features/, clip_features/, clip_text_features/); "
       "default: a split folder without videos/ is searched for them")
      ("feature-sources", po::value<std::string>()->default_value("auto"),
       "video feature sources, concatenated in this order, e.g. slowfast,clip (auto: those present of slowfast,clip)")
      ("feature-clip-seconds", po::value<double>()->default_value(d.feature_clip_seconds),
       "seconds per feature row (QVHighlights 2, Charades-STA 1)")
      ("seed", po::value<uint64_t>()->default_value(d.seed), "random seed (weights, order, dropout)")
      ("lr", po::value<double>()->default_value(d.lr), "peak learning rate (AdamW)")
      ("weight-decay", po::value<double>()->default_value(d.weight_decay), "AdamW weight decay")
      ("validate-every", po::value<int64_t>()->default_value(d.validate_every), "steps between validations (0 = ~8 per run)")
      ("qa-weight", po::value<double>()->default_value(d.qa_weight), "weight of the multiple-choice loss")
      ("slow-align-weight", po::value<double>()->default_value(d.slow_align_weight),
       "weight of the slow frames' backbone alignment loss (the fast frames' stays 1)")
      ("align-contrast", po::value<double>()->default_value(d.align_contrast),
       "weight of a per-query softmax over the frames added to the backbone alignment (Note [Alignment contrast])")
      ("align-heads", po::value<std::string>()->default_value(d.align_heads),
       "shared | pathway: one backbone alignment head for slow and fast frames, or one each (Note [Alignment heads])")
      ("align-pool", po::value<std::string>()->default_value(d.align_pool),
       "place | channel: how the backbone alignment scores a frame (Note [Alignment pooling])")
      ("slow-warmup", po::value<double>()->default_value(d.slow_warmup_minutes),
       "minutes of the run spent first on the backbone alone: slow frames aligned with the queries (Note [Slow warm-up])")
      ("slow-warmup-queries", po::value<std::string>()->default_value(d.slow_warmup_queries),
       "the warm-up aligns only the queries this regular expression finds, e.g. 'dot' (Note [Warm-up queries])")
      ("slow-warmup-text", po::value<std::string>()->default_value(d.slow_warmup_text),
       "train | freeze | reset: the warm-up also trains the text side, leaves it be, or trains it and then puts it "
       "back as it was (Note [Warm-up text side])")
      ("slow-warmup-fast", po::value<std::string>()->default_value(d.slow_warmup_fast ? "on" : "off"),
       "on: the warm-up also aligns every query of its videos with their fast frames (Note [Warm-up fast frames])")
      ("detail-probe", "train the slow-detail attention with a probe loss of its own (Note [Detail probe])")
      ("motion-seconds", po::value<double>()->default_value(d.motion_seconds),
       "join each timeline step's tokens by their change over +-S seconds (0 = off; Note [Motion tokens])")
      ("fast-flow", po::value<std::string>()->default_value(d.fast_flow ? "on" : "off"),
       "on: the fast timeline also reads each place's motion measured on the pixels (Note [Place flow])")
      ("flow-scale", po::value<std::string>()->default_value(d.flow_scale),
       "raw | tokens: the flow in pixels per step, or scaled to each step's token RMS (Note [Flow scale])")
      ("detail-match", po::value<std::string>()->default_value(d.detail_match ? "on" : "off"),
       "on: each step also gets each text's alignment with its nearest slow frame, ungated (Note [Detail match])")
      ("motion-match", po::value<int>()->default_value(d.motion_match),
       "width of the space where each text meets each step's motion tokens, place by place (0 = off; Note [Motion match])")
      ("motion-match-steps", po::value<int>()->default_value(d.motion_match_steps),
       "timeline steps each place's match features see, odd (1 = that step alone; Note [Motion match])")
      ("qa-scoring", po::value<std::string>()->default_value(d.qa_scoring),
       "option: each 'question option' text fused with the video like a query; question: the video fused with the "
       "question, options compared with it")
      ("crop-seconds", po::value<double>()->default_value(d.crop_seconds),
       "train 3 steps in 4 on a crop this long around one query (0 = whole videos; Note [Training crops])")
      ("crop-negatives", po::value<std::string>()->default_value(d.crop_negatives ? "on" : "off"),
       "on | off: crops also learn from the queries whose windows all lie outside them, as negatives")
      ("batch-videos", po::value<int>()->default_value(d.batch_videos),
       "samples (videos or crops) per update, run in parallel on the cores (Note [Batched steps])")
      ("hidden", po::value<int>()->default_value(d.hidden_size), "scratch backbone width")
      ("layers", po::value<int>()->default_value(d.layers), "scratch backbone layers (each tower)")
      ("patch", po::value<int>()->default_value(d.patch_size), "scratch backbone patch size")
      ("stem", po::value<std::string>()->default_value(d.stem), "scratch backbone stem: patch | conv | pixel (Note [Pixel stem])")
      ("fast-size", po::value<int>()->default_value(d.fast_input_size), "fast pathway input size (px)")
      ("slow-grid", po::value<int>()->default_value(d.slow_grid),
       "scratch backbone: slow tokens per side, the patch grid average-pooled (0 = half the grid; the grid = unpooled)")
      ("d-model", po::value<int>()->default_value(d.d_model), "fusion width")
      ("torch-threads", po::value<int>()->default_value(0), "torch threads (0 = one per core)")
      ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (!parse_args("train", "--data DIR --out MODEL_DIR [--val DIR] [--pathways slowfast|slow|fast] [--minutes M]", args,
                  desc, {}, vm))
    return 0;
  grounding::TrainOptions o;
  o.data_dir = vm["data"].as<std::string>();
  o.out_dir = vm["out"].as<std::string>();
  o.val_dir = vm["val"].as<std::string>();
  o.pathways = grounding::parse_pathway_mode(vm["pathways"].as<std::string>());
  o.minutes = vm["minutes"].as<double>();
  o.steps = vm["steps"].as<int64_t>();
  o.init = vm["init"].as<std::string>();
  o.resume = vm.count("resume") > 0;
  o.features_dir = vm["features"].as<std::string>();
  if (vm["feature-sources"].as<std::string>() != "auto") {
    std::istringstream list(vm["feature-sources"].as<std::string>());
    for (std::string name; std::getline(list, name, ',');)
      if (!name.empty()) o.feature_sources.push_back(name);
    if (o.feature_sources.empty()) throw UsageError("--feature-sources: no source named");
  }
  o.feature_clip_seconds = vm["feature-clip-seconds"].as<double>();
  o.seed = vm["seed"].as<uint64_t>();
  o.lr = vm["lr"].as<double>();
  o.weight_decay = vm["weight-decay"].as<double>();
  o.validate_every = vm["validate-every"].as<int64_t>();
  o.crop_seconds = vm["crop-seconds"].as<double>();
  o.qa_weight = vm["qa-weight"].as<double>();
  if (!(o.qa_weight >= 0)) throw UsageError("--qa-weight must be >= 0");
  o.slow_align_weight = vm["slow-align-weight"].as<double>();
  if (!(o.slow_align_weight >= 0)) throw UsageError("--slow-align-weight must be >= 0");
  o.align_contrast = vm["align-contrast"].as<double>();
  if (!(o.align_contrast >= 0)) throw UsageError("--align-contrast must be >= 0");
  o.slow_warmup_minutes = vm["slow-warmup"].as<double>();
  o.slow_warmup_queries = vm["slow-warmup-queries"].as<std::string>();
  o.slow_warmup_text = vm["slow-warmup-text"].as<std::string>();
  o.align_pool = vm["align-pool"].as<std::string>();
  o.align_heads = vm["align-heads"].as<std::string>();
  o.qa_scoring = vm["qa-scoring"].as<std::string>();
  auto on_off = [&](const char* name) {  // a switch given as on|off
    const std::string v = vm[name].as<std::string>();
    if (std::string problem = choice_problem(v, {"on", "off"}); !problem.empty())
      throw UsageError(std::string("--") + name + " " + problem);
    return v == "on";
  };
  o.crop_negatives = on_off("crop-negatives");
  o.slow_warmup_fast = on_off("slow-warmup-fast");
  o.batch_videos = vm["batch-videos"].as<int>();
  if (o.batch_videos < 1) throw UsageError("--batch-videos must be at least 1");
  o.detail_probe = vm.count("detail-probe") > 0;
  o.motion_seconds = vm["motion-seconds"].as<double>();
  o.motion_match = vm["motion-match"].as<int>();
  o.motion_match_steps = vm["motion-match-steps"].as<int>();
  o.fast_flow = on_off("fast-flow");
  o.flow_scale = vm["flow-scale"].as<std::string>();
  o.detail_match = on_off("detail-match");
  o.hidden_size = vm["hidden"].as<int>();
  o.layers = vm["layers"].as<int>();
  o.patch_size = vm["patch"].as<int>();
  o.stem = vm["stem"].as<std::string>();
  o.fast_input_size = vm["fast-size"].as<int>();
  o.slow_grid = vm["slow-grid"].as<int>();
  o.d_model = vm["d-model"].as<int>();
  if (!(o.minutes > 0) && o.steps <= 0) throw UsageError("train: give --minutes > 0 or --steps > 0");
  if (o.steps > 0 && vm["minutes"].defaulted()) o.minutes = 1e9;
  if (vm["torch-threads"].as<int>() > 0) pathways::configure_torch_runtime(vm["torch-threads"].as<int>());
  const bool quiet = vm.count("quiet") > 0;

  g_stop = false;
  auto previous_int = std::signal(SIGINT, on_train_signal);
  auto previous_term = std::signal(SIGTERM, on_train_signal);
  double last_print = -1e9;
  auto progress = [&](const grounding::TrainProgress& p) {
    if (quiet) return !g_stop;
    if (p.stage == "decode" || p.stage == "load") {
      if (p.done == p.total || p.elapsed_seconds - last_print > 5) {
        std::fprintf(stderr, "train: %s %lld/%lld videos\n", p.stage == "load" ? "loading the features of" : "decoding",
                     (long long)p.done, (long long)p.total);
        last_print = p.elapsed_seconds;
      }
    } else if (p.stage == "warmup") {
      if (p.step == 1)
        std::fprintf(stderr, "train: slow warm-up aligns %lld of the %lld training queries%s\n", (long long)p.done,
                     (long long)p.total, o.slow_warmup_queries.empty() ? "" : (" ('" + o.slow_warmup_queries + "')").c_str());
      if (p.elapsed_seconds - last_print > 10 || p.step == 1) {
        std::fprintf(stderr, "train: slow warm-up step %lld loss %.3f lr %.2e | %s elapsed, %s left\n", (long long)p.step,
                     p.loss, p.lr, clock_text(p.elapsed_seconds).c_str(), clock_text(p.eta_seconds).c_str());
        last_print = p.elapsed_seconds;
      }
    } else if (p.stage == "train") {
      if (p.elapsed_seconds - last_print > 10 || p.step == p.total_steps) {
        std::fprintf(stderr,
                     "train: step %lld/%lld loss %.3f (sal %.3f rank %.3f focal %.3f l1 %.3f giou %.3f align %.3f motion %.3f probe %.3f qa %.3f) lr %.2e "
                     "gate %.3f | %s elapsed, ETA %s\n",
                     (long long)p.step, (long long)p.total_steps, p.loss, p.parts.saliency, p.parts.rank, p.parts.focal,
                     p.parts.l1, p.parts.giou, p.parts.align, p.parts.motion, p.parts.probe, p.qa_loss, p.lr, p.gate, clock_text(p.elapsed_seconds).c_str(),
                     p.total_steps ? clock_text(p.eta_seconds).c_str() : "?");
        last_print = p.elapsed_seconds;
      }
    } else if (p.stage == "validate") {
      std::fprintf(stderr, "train: validation @%lld: R1@0.5 %.2f R1@0.7 %.2f mIoU %.2f QA %.2f%s\n", (long long)p.step,
                   p.validation.r1_05, p.validation.r1_07, p.validation.miou, p.validation.accuracy,
                   p.best ? "  (best: saved)" : "");
    }
    return !g_stop;
  };
  grounding::TrainReport r;
  try {
    r = grounding::train(o, progress);
  } catch (...) {
    std::signal(SIGINT, previous_int);
    std::signal(SIGTERM, previous_term);
    throw;
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  std::cout << json{{"model", o.out_dir},
                    {"pathways", grounding::to_string(o.pathways)},
                    {"steps", r.steps},
                    {"seconds", r.seconds},
                    {"best_step", r.best_step},
                    {"val", {{"R1@0.5", r.best.r1_05}, {"R1@0.7", r.best.r1_07}, {"mIoU", r.best.miou},
                             {"accuracy", r.best.accuracy}}}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace sfvu::cli
