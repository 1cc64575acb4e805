// The issue-5 CLI end to end on a tiny synthetic benchmark: synth -> train (+ resume) ->
// ground / qa / predict with the trained folder -> the evaluators accept the predictions.
// Tiny shapes and a handful of steps: this checks the plumbing and the contracts, not
// accuracy (`sfvu bench ablation` measures that). Training on pre-extracted features (the
// Moment-DETR layout) on a tiny generated feature set, where it must also learn.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <initializer_list>
#include <utility>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sfvu/base/safetensors.h"
#include "support/cli_json.h"
#include "support/feature_set.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::shell_quote;

test::CommandResult sfvu_cli(const std::string& args) { return test::run_sfvu(args); }

std::vector<json> lines(const std::string& text) { return test::json_lines<json>(text); }

const char* kTiny = " --hidden 16 --layers 1 --d-model 32 --fast-size 16 --torch-threads 2 -q";

// The largest absolute difference between two model folders' weights (same tensor names).
// The largest difference of one weight between two model folders, over the tensors whose name
// `counted` accepts (every tensor by default).
double weight_distance(const std::string& a, const std::string& b,
                       const std::function<bool(const std::string&)>& counted = {}) {
  auto fa = SafetensorsFile::open(a + "/model.safetensors"), fb = SafetensorsFile::open(b + "/model.safetensors");
  EXPECT_EQ(fa->tensors().size(), fb->tensors().size());
  double worst = 0;
  for (const auto& ta : fa->tensors()) {
    if (counted && !counted(ta.name)) continue;
    const TensorView& tb = fb->tensor(ta.name);
    EXPECT_EQ(ta.bytes, tb.bytes) << ta.name;
    const float* x = reinterpret_cast<const float*>(ta.data);
    const float* y = reinterpret_cast<const float*>(tb.data);
    for (int64_t i = 0; i < std::min(ta.numel(), tb.numel()); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
  }
  return worst;
}

class TrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::scratch_dir("cli_train");
    for (auto [split, seed, n] : {std::tuple{"train", 11, 3}, std::tuple{"val", 12, 2}}) {
      auto r = sfvu_cli("synth --out " + shell_quote(dir_ + "/" + split) + " --videos " + std::to_string(n) +
                        " --seed " + std::to_string(seed) + " --size 64 --seconds 20-22 --jobs 2");
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --val " + shell_quote(dir_ + "/val") +
                      " --out " + shell_quote(dir_ + "/model") + " --steps 4 --validate-every 2" + kTiny);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    summary_ = json::parse(r.out);
  }
  // `sfvu train` on the training split into dir_/NAME with extra `flags`, the tiny shape.
  static test::CommandResult train_tiny(const std::string& name, const std::string& flags) {
    return sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(dir_ + "/" + name) + " " +
                    flags + kTiny);
  }
  // Trains `name` with `flags` and `baseline` with `baseline_flags` (the same steps otherwise);
  // `name`'s config.json, or null when either run failed.
  static json train_against(const std::string& name, const std::string& flags, const std::string& baseline,
                            const std::string& baseline_flags) {
    auto r = train_tiny(name, flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto b = train_tiny(baseline, baseline_flags);
    EXPECT_EQ(b.exit_code, 0) << b.err;
    if (r.exit_code != 0 || b.exit_code != 0) return json();
    return json::parse(test::read_text_file(dir_ + "/" + name + "/config.json"));
  }
  // Each `flags` (after --steps 1) refused with exit 2, a message holding its `named` text, and
  // no model folder left in `name`.
  static void expect_refused(const std::string& name,
                             std::initializer_list<std::pair<const char*, const char*>> refused) {
    for (const auto& [flags, named] : refused) {
      auto r = train_tiny(name, std::string("--steps 1 ") + flags);
      EXPECT_EQ(r.exit_code, 2) << flags;
      EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(dir_ + "/" + name + "/config.json")) << flags;
    }
  }
  static std::string dir_;
  static json summary_;
};
std::string TrainCli::dir_;
json TrainCli::summary_;

TEST_F(TrainCli, WritesAModelFolderAndASummary) {
  EXPECT_EQ(summary_["steps"], 4);
  EXPECT_EQ(summary_["pathways"], "slowfast");
  for (const char* f : {"config.json", "model.safetensors", "tokenizer_words.json", "train_state/state.json",
                        "train_state/optimizer.pt"})
    EXPECT_TRUE(fs::exists(dir_ + "/model/" + f)) << f;
  json config = json::parse(test::read_text_file(dir_ + "/model/config.json"));
  EXPECT_EQ(config["sfvu_model"], "slowfast-grounding");
  EXPECT_EQ(config["version"], 1);
  EXPECT_EQ(config["backbone"]["vision_config"]["image_size"], 64);
}

TEST_F(TrainCli, ResumeContinuesFromTheSavedStep) {
  fs::copy(dir_ + "/model", dir_ + "/resumed", fs::copy_options::recursive);
  auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --val " + shell_quote(dir_ + "/val") +
                    " --out " + shell_quote(dir_ + "/resumed") + " --steps 6 --resume" + kTiny);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["steps"], 6);
  json state = json::parse(test::read_text_file(dir_ + "/resumed/train_state/state.json"));
  EXPECT_EQ(state["step"], 6);
}

TEST_F(TrainCli, RefusesToOverwriteAModelAndNamesAMissingSplit) {
  auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(dir_ + "/model") +
                    " --steps 1" + kTiny);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  r = sfvu_cli("train --data " + shell_quote(dir_ + "/nope") + " --out " + shell_quote(dir_ + "/m2") + " --steps 1" + kTiny);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir_ + "/nope"), std::string::npos) << r.err;
  r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(dir_ + "/m3") +
               " --pathways medium --steps 1" + kTiny);
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(TrainCli, TrainsOnCropsAndRefusesBadTrainingOptions) {
  // Note [Training crops]: the 20-22 s videos are cropped to 6 s on three steps in four.
  auto r = train_tiny("cropped", "--steps 4 --crop-seconds 6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json config = json::parse(test::read_text_file(dir_ + "/cropped/config.json"));
  EXPECT_EQ(config["training"]["crop_seconds"], 6.0);
  EXPECT_EQ(config["training"]["crop_negatives"], true);
  EXPECT_EQ(config["training"]["batch_videos"], 2);
  EXPECT_EQ(config["qa"]["scoring"], "option");  // the defaults
  EXPECT_EQ(config["fusion"]["detail_probe"], false);
  EXPECT_EQ(config["fusion"]["motion_seconds"], 1.0);
  EXPECT_EQ(config["fusion"]["motion_match"], 64);
  EXPECT_EQ(config["fusion"]["motion_match_steps"], 1);
  EXPECT_EQ(config["slowfast"]["fast_flow"], true);
  EXPECT_EQ(config["fusion"]["detail_match"], false);
  EXPECT_EQ(config["slowfast"]["slow"]["pool_h"], 4);  // 64 px, patch 8: the 8x8 grid pooled 2x2
  EXPECT_EQ(config["training"]["slow_align_weight"], 1.0);
  EXPECT_EQ(config["training"]["align_contrast"], 0.0);
  EXPECT_EQ(config["training"]["slow_warmup_steps"], 0);
  EXPECT_EQ(config["fusion"]["align_pool"], "place");
  EXPECT_EQ(config["fusion"]["align_heads"], "shared");
  EXPECT_EQ(config["fusion"]["flow_scale"], "raw");
  const std::pair<const char*, const char*> refused[] = {{"--crop-seconds 2", "--crop-seconds"},
                                                         {"--qa-weight -1", "--qa-weight"},
                                                         {"--stem resnet", "resnet"},
                                                         {"--qa-scoring vote", "--qa-scoring"},
                                                         {"--crop-negatives maybe", "--crop-negatives"},
                                                         {"--motion-match -1", "--motion-match"},
                                                         {"--motion-match-steps 4", "--motion-match-steps"},
                                                         {"--fast-flow maybe", "--fast-flow"},
                                                         {"--detail-match maybe", "--detail-match"},
                                                         {"--slow-grid 9", "--slow-grid"},
                                                         {"--slow-align-weight -1", "--slow-align-weight"},
                                                         {"--slow-warmup -1", "--slow-warmup"},
                                                         {"--align-pool mean", "--align-pool"},
                                                         {"--align-contrast -0.5", "--align-contrast"},
                                                         {"--align-heads both", "--align-heads"},
                                                         {"--align-heads pathway --pathways slow", "--align-heads"},
                                                         {"--flow-scale pixels", "--flow-scale must be"},
                                                         {"--flow-scale tokens --pathways slow", "reads none (--pathways slow)"},
                                                         {"--flow-scale tokens --fast-flow off", "reads none (--fast-flow off)"},
                                                         {"--slow-warmup 0.01 --pathways fast", "--slow-warmup"},
                                                         {"--slow-warmup 0.5 --minutes 0.5", "--slow-warmup"}};
  for (const auto& [flags, named] : refused) {
    r = train_tiny("refused", std::string("--steps 1 ") + flags);
    EXPECT_EQ(r.exit_code, 2) << flags;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  }
}

TEST_F(TrainCli, AlignmentContrastAndPathwayHeadsChangeTheTrainingAndAreRecorded) {
  // Note [Alignment contrast]: the same 2 steps with and without the per-query softmax.
  json config = train_against("contrast", "--steps 2 --align-contrast 1", "plain", "--steps 2");
  ASSERT_FALSE(config.is_null());
  EXPECT_EQ(config["training"]["align_contrast"], 1.0);
  EXPECT_GT(weight_distance(dir_ + "/contrast", dir_ + "/plain"), 1e-4);
  // Note [Alignment heads]: the fast frames' own head is trained and saved.
  auto r = train_tiny("heads", "--steps 2 --align-heads pathway");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  config = json::parse(test::read_text_file(dir_ + "/heads/config.json"));
  EXPECT_EQ(config["fusion"]["align_heads"], "pathway");
  auto heads = SafetensorsFile::open(dir_ + "/heads/model.safetensors");
  auto plain = SafetensorsFile::open(dir_ + "/plain/model.safetensors");
  EXPECT_EQ(heads->tensors().size(), plain->tensors().size() + 4);  // weight, bias, scale, bias
  EXPECT_EQ(heads->tensor("align_frame_fast.weight").bytes, heads->tensor("align_frame.weight").bytes);
}

TEST_F(TrainCli, SlowWarmUpTrainsTheBackboneFirstAndIsRecorded) {
  // Note [Slow warm-up]: 2 s of backbone-only steps before the same 2 training steps.
  json config = train_against("warm", "--steps 2 --slow-warmup 0.033 --align-pool channel", "cold",
                              "--steps 2 --align-pool channel");
  ASSERT_FALSE(config.is_null());
  EXPECT_EQ(config["training"]["slow_warmup_minutes"], 0.033);
  EXPECT_GE(config["training"]["slow_warmup_steps"].get<int64_t>(), 1);
  EXPECT_EQ(config["training"]["steps"], 2);
  EXPECT_EQ(config["fusion"]["align_pool"], "channel");
  EXPECT_GT(weight_distance(dir_ + "/warm", dir_ + "/cold"), 1e-3);
  json state = json::parse(test::read_text_file(dir_ + "/warm/train_state/state.json"));
  EXPECT_EQ(state["warmup_steps"], config["training"]["slow_warmup_steps"]);
}

TEST_F(TrainCli, WarmUpQueriesChooseWhatTheWarmUpAligns) {
  // Note [Warm-up queries]: the warm-up's first progress line counts the queries it aligns;
  // every synthetic video has one detail query ("... with a small white dot appears").
  auto aligned = [&](const std::string& name, const std::string& flags) {
    auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(dir_ + "/" + name) +
                      " --steps 1 --slow-warmup 0.02 --hidden 16 --layers 1 --d-model 32 --fast-size 16 --torch-threads 2 " +
                      flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    long long kept = -1, total = -1;
    const size_t at = r.err.find("slow warm-up aligns ");
    EXPECT_NE(at, std::string::npos) << r.err;
    if (at != std::string::npos) std::sscanf(r.err.c_str() + at, "slow warm-up aligns %lld of the %lld", &kept, &total);
    return std::pair{kept, total};
  };
  const auto [all_kept, all_total] = aligned("warm_all", "");
  const auto [dot_kept, dot_total] = aligned("warm_dot", "--slow-warmup-queries 'white dot'");
  EXPECT_GT(all_total, 3);
  EXPECT_EQ(all_kept, all_total);
  EXPECT_EQ(dot_total, all_total);
  EXPECT_EQ(dot_kept, 3);  // three videos, one dotted shape each
  json config = json::parse(test::read_text_file(dir_ + "/warm_dot/config.json"));
  EXPECT_EQ(config["training"]["slow_warmup_queries"], "white dot");
  expect_refused("refused_warmup", {
      {"--slow-warmup-queries dot", "give --slow-warmup"},
      {"--slow-warmup 0.01 --slow-warmup-queries 'dot('", "not a regular expression"},
      {"--slow-warmup 0.01 --slow-warmup-queries 'purple elephant'", "'purple elephant' finds"}});
}

TEST_F(TrainCli, WarmUpTextSideTrainsFreezesOrResets) {
  // Note [Warm-up text side]: 6 s of warm-up then one training step, against the one step
  // alone, the same seed. A first AdamW step moves each weight by at most lr (after the same
  // weight decay), so a text side the warm-up leaves as it found it ("freeze", "reset") ends
  // within 2 lr of the cold run's; "train" keeps the warm-up's steps, which take it further.
  // The vision side moves in every warm-up.
  const double lr = 2e-3;  // --lr below
  const std::string cold = dir_ + "/text_cold";
  auto r = train_tiny("text_cold", "--steps 1 --align-pool channel --lr 0.002");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto text_side = [](const std::string& n) {
    return n.rfind("backbone.text_model.", 0) == 0 || n.rfind("align_text.", 0) == 0;
  };
  auto vision_side = [](const std::string& n) { return n.rfind("backbone.vision_model.", 0) == 0; };
  for (const char* mode : {"freeze", "reset", "train"}) {
    const std::string name = std::string("text_") + mode;
    r = train_tiny(name, std::string("--steps 1 --slow-warmup 0.1 --align-pool channel --lr 0.002 --slow-warmup-text ") +
                             mode);
    ASSERT_EQ(r.exit_code, 0) << mode << ": " << r.err;
    const double text_moved = weight_distance(dir_ + "/" + name, cold, text_side);
    if (std::string(mode) == "train")
      EXPECT_GT(text_moved, 2.5 * lr);
    else
      EXPECT_LE(text_moved, 2 * lr * 1.001) << mode;
    EXPECT_GT(weight_distance(dir_ + "/" + name, cold, vision_side), 2.5 * lr) << mode;
    json config = json::parse(test::read_text_file(dir_ + "/" + name + "/config.json"));
    EXPECT_EQ(config["training"]["slow_warmup_text"], mode);
  }
  expect_refused("refused_text", {
      {"--slow-warmup-text freeze", "give --slow-warmup"},
      {"--slow-warmup 0.01 --slow-warmup-text melt", "--slow-warmup-text must be one of 'train', 'freeze', or 'reset', not 'melt'"}});
}

TEST_F(TrainCli, WarmUpFastFramesTrainTheFastHead) {
  // Note [Warm-up fast frames]: with per-pathway heads the fast frames' own head is trained
  // only by the fast frames' alignment. Bound as above: one AdamW step moves a weight by at most
  // lr, so after a warm-up without the fast frames (6 s) and one step the fast head lies within
  // 2 lr of the one-step run's; with them, the warm-up moved it further.
  const double lr = 2e-3;
  const std::string common = "--steps 1 --align-pool channel --align-heads pathway --lr 0.002 ";
  for (const auto& [name, flags] : {std::pair{"fast_cold", common},
                                    std::pair{"fast_off", common + "--slow-warmup 0.1"},
                                    std::pair{"fast_on", common + "--slow-warmup 0.1 --slow-warmup-fast on"}}) {
    auto r = train_tiny(name, flags);
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
  auto fast_head = [](const std::string& n) { return n.rfind("align_frame_fast.", 0) == 0; };
  const std::string cold = dir_ + "/fast_cold";
  EXPECT_LE(weight_distance(dir_ + "/fast_off", cold, fast_head), 2 * lr * 1.001);
  EXPECT_GT(weight_distance(dir_ + "/fast_on", cold, fast_head), 2.5 * lr);
  json config = json::parse(test::read_text_file(dir_ + "/fast_on/config.json"));
  EXPECT_EQ(config["training"]["slow_warmup_fast"], true);
  config = json::parse(test::read_text_file(dir_ + "/fast_off/config.json"));
  EXPECT_EQ(config["training"]["slow_warmup_fast"], false);
  expect_refused("refused_fast", {
      {"--slow-warmup-fast on", "give --slow-warmup"},
      {"--pathways slow --slow-warmup 0.01 --slow-warmup-fast on", "a --pathways slowfast model only"},
      {"--slow-warmup 0.01 --slow-warmup-fast maybe", "--slow-warmup-fast must be 'on' or 'off', not 'maybe'"}});
}

// Note [Flow scale]: the choice is the model's (fusion.flow_scale), read back by predict.
TEST_F(TrainCli, FlowScaleIsTheModelsAndPredictReadsIt) {
  auto r = train_tiny("flow_tokens", "--steps 2 --flow-scale tokens");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json config = json::parse(test::read_text_file(dir_ + "/flow_tokens/config.json"));
  EXPECT_EQ(config["fusion"]["flow_scale"], "tokens");
  const std::string pred = dir_ + "/flow_tokens.pred.jsonl";
  const std::string val = dir_ + "/val";
  auto p = sfvu_cli("predict --task grounding --model " + shell_quote(dir_ + "/flow_tokens") + " --annotations " +
                    shell_quote(val + "/annotations.jsonl") + " --videos " + shell_quote(val + "/videos") + " --out " +
                    shell_quote(pred) + " --no-cache -q");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(lines(test::read_text_file(pred)).size(), 6u);
}

TEST_F(TrainCli, BatchedStepsAreTheSameOnOneWorkerOrTwo) {
  // Note [Batched steps]: two samples per update, run on two workers (one thread each) or one
  // after the other on one: the same samples and gradient sum, so the same weights up to the
  // rounding of multi-threaded kernels. One sample per update trains something else.
  const std::string steps = "--steps 4 --crop-seconds 6 --hidden 16 --layers 1 --d-model 32 --fast-size 16 -q ";
  for (const char* run : {"b2w2 --batch-videos 2 --torch-threads 2", "b2w1 --batch-videos 2 --torch-threads 1",
                          "b1 --batch-videos 1 --torch-threads 1"}) {
    const std::string name = std::string(run).substr(0, std::string(run).find(' '));
    auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(dir_ + "/" + name) +
                      " " + steps + std::string(run).substr(name.size()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_LT(weight_distance(dir_ + "/b2w2", dir_ + "/b2w1"), 1e-3);
  EXPECT_GT(weight_distance(dir_ + "/b2w2", dir_ + "/b1"), 1e-3);
  json config = json::parse(test::read_text_file(dir_ + "/b2w2/config.json"));
  EXPECT_EQ(config["training"]["batch_videos"], 2);
  // A resumed run keeps its own batch size, whatever the command line says.
  auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(dir_ + "/b2w2") +
                    " --resume --batch-videos 3 " + steps.substr(std::string("--steps 4 ").size()) + "--steps 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json state = json::parse(test::read_text_file(dir_ + "/b2w2/train_state/state.json"));
  EXPECT_EQ(state["step"], 5);
  EXPECT_EQ(state["batch_videos"], 2);
  r = train_tiny("refused", "--steps 1 --batch-videos 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--batch-videos"), std::string::npos) << r.err;
}

TEST_F(TrainCli, TrainsWithTheDetailProbeAndOptionFusedQa) {
  // Note [Detail probe], Note [Option-fused QA], an unpooled slow grid: recorded in config.json,
  // and the folder answers.
  const std::string out = dir_ + "/probe";
  auto r = train_tiny("probe", "--steps 4 --crop-seconds 0 --detail-probe --qa-scoring option --slow-grid 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json config = json::parse(test::read_text_file(out + "/config.json"));
  EXPECT_EQ(config["qa"]["scoring"], "option");
  EXPECT_EQ(config["qa"]["option_text"], "question_option");
  EXPECT_EQ(config["fusion"]["detail_probe"], true);
  EXPECT_EQ(config["slowfast"]["slow"]["pool_h"], 8);
  EXPECT_EQ(config["slowfast"]["slow"]["pool_w"], 8);
  r = sfvu_cli("qa --model " + shell_quote(out) +
               " --question 'what colour is the shape with the white dot?' --options 'red|green|blue|yellow' --no-cache -q " +
               shell_quote(dir_ + "/val/videos/synth12_0000.mp4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["probabilities"].size(), 4u);
}

TEST_F(TrainCli, TrainsGroundedQaOnCropsWithMotionTokens) {
  // Note [Grounded QA] (synth's questions carry their windows; crops keep the questions they
  // hold) and Note [Motion tokens]: recorded in config.json, and the folder answers.
  const std::string out = dir_ + "/grounded";
  auto r = train_tiny("grounded", "--steps 6 --crop-seconds 6 --qa-scoring option --motion-seconds 0.25 --motion-match 8 --motion-match-steps 5 --detail-match on");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json config = json::parse(test::read_text_file(out + "/config.json"));
  EXPECT_EQ(config["fusion"]["motion_seconds"], 0.25);
  EXPECT_EQ(config["fusion"]["timeline_token_dim"], 36);  // 16 + its change + 4 of place flow
  EXPECT_EQ(config["fusion"]["motion_match"], 8);  // Note [Motion match]
  EXPECT_EQ(config["fusion"]["motion_match_steps"], 5);
  EXPECT_EQ(config["fusion"]["detail_match"], true);  // Note [Detail match]
  r = sfvu_cli("qa --model " + shell_quote(out) + " --question 'which way does the red square move?' " +
               "--options 'left|right|up|down' --no-cache -q " + shell_quote(dir_ + "/val/videos/synth12_0000.mp4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["probabilities"].size(), 4u);
  r = train_tiny("refused", "--steps 1 --motion-seconds -1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--motion-seconds"), std::string::npos) << r.err;
}

TEST_F(TrainCli, TrainsOnAFrozenPretrainedClip) {
  const std::string out = dir_ + "/from_clip";
  auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/train") + " --out " + shell_quote(out) +
                    " --init clip:" + shell_quote(test::fixture("clip_tiny")) + " --steps 2 --d-model 32 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json config = json::parse(test::read_text_file(out + "/config.json"));
  EXPECT_EQ(config["backbone_frozen"], true);
  EXPECT_EQ(config["text"]["tokenizer"], "clip");
  EXPECT_TRUE(fs::exists(out + "/vocab.json") && fs::exists(out + "/merges.txt"));
  r = sfvu_cli("ground --model " + shell_quote(out) + " --query 'the red square moves left' --no-cache -q " +
               shell_quote(dir_ + "/train/videos/synth11_0000.mp4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(json::parse(r.out)["moments"].empty());
}

TEST_F(TrainCli, BenchAlignmentMeasuresTheBackbonePerQueryKind) {
  // Every query of the split is counted once under its kind and once under "all", on the slow
  // and fast frames, and on the detail probe when the model has one.
  auto r = train_tiny("alignprobe", "--steps 2 --crop-seconds 0 --detail-probe");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* model : {"model", "alignprobe"}) {
    r = sfvu_cli("bench alignment --model " + shell_quote(dir_ + "/" + model) + " --data " +
                 shell_quote(dir_ + "/val") + " --videos 2 -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out);
    for (const char* kind : {"all", "motion", "detail", "short"}) ASSERT_TRUE(j.contains(kind)) << model << " " << r.out;
    // Note [Flow share]: the sizes of what the fast timeline's place norms read (flow models).
    const json& places = j["place_input"];
    EXPECT_EQ(places["flow_scale"], "raw");
    EXPECT_GT(places["frames"].get<int64_t>(), 0);
    for (const char* key : {"token_rms", "change_rms", "flow_rms"}) EXPECT_GT(places[key].get<double>(), 0.0) << key;
    EXPECT_GT(places["flow_share"].get<double>(), 0.0);
    EXPECT_LT(places["flow_share"].get<double>(), 1.0);
    for (const char* source : {"slow", "fast", "probe"}) {
      if (std::string(source) == "probe" && std::string(model) == "model") {
        EXPECT_FALSE(j["all"].contains("probe")) << r.out;
        continue;
      }
      int64_t per_kind = 0;
      for (const char* kind : {"motion", "detail", "short"}) per_kind += j[kind][source]["queries"].get<int64_t>();
      const json& all = j["all"][source];
      EXPECT_EQ(all["queries"].get<int64_t>(), per_kind) << model << " " << source;
      EXPECT_GE(per_kind, 4) << model << " " << source;  // 2 videos x 3 queries, flashes between slow frames aside
      for (const char* key : {"auc", "top_in", "inside_share"}) {
        EXPECT_GE(all[key].get<double>(), 0.0) << key;
        EXPECT_LE(all[key].get<double>(), 1.0) << key;
      }
      EXPECT_GT(all["inside_share"].get<double>(), 0.0);
    }
  }
  r = sfvu_cli("bench alignment --model " + shell_quote(dir_ + "/model") + " --data " + shell_quote(dir_ + "/nope") + " -q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir_ + "/nope"), std::string::npos) << r.err;
}

TEST_F(TrainCli, GroundAndQaAcceptTheTrainedFolder) {
  const std::string video = dir_ + "/val/videos/synth12_0000.mp4";
  auto r = sfvu_cli("ground --model " + shell_quote(dir_ + "/model") +
                    " --query 'the shape with a small white dot appears' --no-cache -q " + shell_quote(video));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json g = json::parse(r.out);
  ASSERT_TRUE(g.contains("moments")) << r.out;
  EXPECT_FALSE(g["moments"].empty());
  EXPECT_EQ(g["saliency"].size(), size_t(std::ceil(g["duration"].get<double>() / 2)));
  r = sfvu_cli("qa --model " + shell_quote(dir_ + "/model") +
               " --question 'what colour is the shape with the white dot?' --options 'red|green|blue|yellow' --no-cache -q " +
               shell_quote(video));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["probabilities"].size(), 4u);
}

TEST_F(TrainCli, PredictWritesWhatTheEvaluatorsScore) {
  const std::string val = dir_ + "/val";
  auto r = sfvu_cli("predict --task grounding --model " + shell_quote(dir_ + "/model") + " --annotations " +
                    shell_quote(val + "/annotations.jsonl") + " --videos " + shell_quote(val + "/videos") + " --out " +
                    shell_quote(dir_ + "/pred.jsonl") + " --no-cache -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(test::read_text_file(dir_ + "/pred.jsonl")).size(), 6u);
  r = sfvu_cli("eval qvhighlights --gt " + shell_quote(val + "/annotations.jsonl") + " --pred " +
               shell_quote(dir_ + "/pred.jsonl") + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out)["brief"].contains("MR-full-R1@0.5"));
  r = sfvu_cli("predict --task qa --model " + shell_quote(dir_ + "/model") + " --annotations " +
               shell_quote(val + "/qa.jsonl") + " --videos " + shell_quote(val + "/videos") + " --out " +
               shell_quote(dir_ + "/qa_pred.jsonl") + " --no-cache -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = sfvu_cli("eval mcqa --gt " + shell_quote(val + "/qa.jsonl") + " --pred " + shell_quote(dir_ + "/qa_pred.jsonl") +
               " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out)["brief"].contains("accuracy"));
}

}  // namespace
}  // namespace sfvu

namespace sfvu {
namespace {

// `make demo`'s second half: the bundled model (data/models/synth-tiny, `make synth-model`)
// must keep loading with this code and ground the bundled synthetic video.
TEST(BundledModel, GroundsTheDemoVideoAndPlotsIt) {
  const std::string repo = fs::path(test::fixture("")).parent_path().parent_path().parent_path().string();
  const std::string model = repo + "/data/models/synth-tiny", video = repo + "/data/samples/synth_demo.mp4";
  ASSERT_TRUE(fs::exists(model + "/config.json")) << model;
  const std::string plot = test::scratch_dir("bundled_model") + "/plot.png";
  auto r = test::run_sfvu("ground --model " + shell_quote(model) +
                          " --query 'the shape with a small white dot appears' --no-cache -q --plot " +
                          shell_quote(plot) + " " + shell_quote(video));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json g = json::parse(r.out);
  EXPECT_FALSE(g["moments"].empty());
  EXPECT_TRUE(fs::exists(plot));
  EXPECT_LT(fs::file_size(model + "/model.safetensors"), 10u << 20);
}


// Training on pre-extracted features: the generated sets (support/feature_set.h) are
// learnable only by matching each query's concept with the CLIP rows, so R1@0.5 well above
// 50% on a held-out split means the fusion reads both. One torch thread: on a shared 2-core
// machine a second one costs more in contention than it gains on these tiny shapes.
class TrainFeaturesCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::scratch_dir("cli_train_features");
    test::FeatureSetOptions train, held_out;
    train.videos = 48;
    held_out.videos = 16;
    held_out.seed = 2;
    test::write_feature_set(dir_ + "/data", train);
    test::write_feature_set(dir_ + "/val", held_out);
    auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/data") + " --val " + shell_quote(dir_ + "/val") +
                      " --out " + shell_quote(dir_ + "/model") + " --steps 600 --validate-every 200 --d-model 32" +
                      " --torch-threads 1 -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    summary_ = json::parse(r.out);
  }
  // A copy of the generated set to break.
  static std::string copy_of_data(const std::string& name) {
    const std::string to = test::scratch_dir(name) + "/data";
    fs::copy(dir_ + "/data", to, fs::copy_options::recursive);
    return to;
  }
  static std::string dir_;
  static json summary_;
};
std::string TrainFeaturesCli::dir_;
json TrainFeaturesCli::summary_;

TEST_F(TrainFeaturesCli, LearnsToGroundQueriesOfUnseenVideos) {
  EXPECT_EQ(summary_["steps"], 600);
  // Finding the events without matching the query gets about 50, chance less.
  EXPECT_GE(summary_["val"]["R1@0.5"].get<double>(), 75.0) << summary_.dump();
  // The same through the submission file and the QVHighlights evaluator.
  const std::string val = dir_ + "/val", pred = dir_ + "/val_pred.jsonl";
  auto r = sfvu_cli("predict --task grounding --model " + shell_quote(dir_ + "/model") + " --annotations " +
                    shell_quote(val + "/annotations.jsonl") + " --features " + shell_quote(val + "/features") +
                    " --out " + shell_quote(pred) + " --torch-threads 1 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(test::read_text_file(pred)).size(), 32u);
  r = sfvu_cli("eval qvhighlights --gt " + shell_quote(val + "/annotations.jsonl") + " --pred " + shell_quote(pred) +
               " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(json::parse(r.out)["brief"]["MR-full-R1@0.5"].get<double>(), 75.0) << r.out;
}

TEST_F(TrainFeaturesCli, TheModelFolderRecordsWhatItReads) {
  for (const char* f : {"config.json", "model.safetensors", "train_state/state.json", "train_state/optimizer.pt"})
    EXPECT_TRUE(fs::exists(dir_ + "/model/" + f)) << f;
  EXPECT_FALSE(fs::exists(dir_ + "/model/tokenizer_words.json"));
  json config = json::parse(test::read_text_file(dir_ + "/model/config.json"));
  EXPECT_EQ(config["sfvu_model"], "slowfast-grounding");
  EXPECT_EQ(config["version"], 2);
  EXPECT_FALSE(config.contains("backbone"));
  const json& input = config["input"];
  EXPECT_EQ(input["kind"], "features");
  EXPECT_EQ(input["sources"], json({"slowfast", "clip"}));
  EXPECT_EQ(input["source_dims"], json({24, 16}));
  EXPECT_EQ(input["detail_source"], "clip");
  EXPECT_EQ(input["query_dim"], 16);
  EXPECT_EQ(input["max_rows"], 75);
  EXPECT_EQ(config["fusion"]["timeline_dim"], 24 + 16 + 2);
}

TEST_F(TrainFeaturesCli, ResumeContinuesAndVideoCommandsRefuseTheModel) {
  fs::copy(dir_ + "/model", dir_ + "/resumed", fs::copy_options::recursive);
  auto r = sfvu_cli("train --data " + shell_quote(dir_ + "/data") + " --out " + shell_quote(dir_ + "/resumed") +
                    " --steps 605 --resume --d-model 32 --torch-threads 1 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["steps"], 605);
  r = sfvu_cli("ground --model " + shell_quote(dir_ + "/model") + " --query q --no-cache -q " +
               shell_quote(test::video("discard_first_keyframe.mp4")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("pre-extracted features"), std::string::npos) << r.err;
  r = sfvu_cli("bench alignment --model " + shell_quote(dir_ + "/model") + " --data " + shell_quote(dir_ + "/data") + " -q");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("pre-extracted features"), std::string::npos) << r.err;
}

TEST_F(TrainFeaturesCli, FeatureOnlyOptionsAreRefused) {
  const std::string data = shell_quote(dir_ + "/data");
  auto r = sfvu_cli("train --data " + data + " --out " + shell_quote(dir_ + "/slow") + " --pathways slow --steps 1 -q");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = sfvu_cli("train --data " + data + " --out " + shell_quote(dir_ + "/clip") + " --init clip:" +
               shell_quote(test::fixture("clip_tiny")) + " --steps 1 -q");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = sfvu_cli("train --data " + data + " --out " + shell_quote(dir_ + "/pann") + " --feature-sources clip,pann --steps 1 -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("feature source 'pann'"), std::string::npos) << r.err;
}

TEST_F(TrainFeaturesCli, BadFeatureFilesFailByName) {
  // A query without its file.
  std::string data = copy_of_data("cli_train_features_noqid");
  fs::remove(data + "/features/clip_text_features/qid205.npz");
  auto r = sfvu_cli("train --data " + shell_quote(data) + " --out " + shell_quote(data + "/../m") + " --steps 1 -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("clip_text_features/qid205.npz: missing"), std::string::npos) << r.err;
  EXPECT_EQ(test::nonempty_lines(r.err).size(), 1u) << r.err;
  // A video file without the "features" array.
  data = copy_of_data("cli_train_features_nokey");
  std::vector<float> rows(20 * 16, 0.5f);
  test::write_rows_npz(data + "/features/clip_features/fvid_3.npz", "feats", rows, 20, 16);
  r = sfvu_cli("train --data " + shell_quote(data) + " --out " + shell_quote(data + "/../m") + " --steps 1 -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("clip_features/fvid_3.npz: no array 'features' (it has: feats)"), std::string::npos) << r.err;
  // A video whose rows are narrower than the first video's (which fixed the model's widths).
  data = copy_of_data("cli_train_features_width");
  test::write_rows_npz(data + "/features/clip_features/fvid_5.npz", "features", rows, 40, 8);
  r = sfvu_cli("train --data " + shell_quote(data) + " --out " + shell_quote(data + "/../m") + " --steps 1 -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("fvid_5.npz: 'features' rows are 8 wide; the model reads 16"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sfvu
