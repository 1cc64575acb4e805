// The learned model: losses and point assignment, save/load round trip, checkpoint errors
// naming the tensor, and a few optimisation steps that must lower the loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/grounding/grounding_losses.h"
#include "sfvu/grounding/learned_head.h"
#include "sfvu/grounding/learned_model.h"
#include "sfvu/pathways/json_fields.h"
#include "support/test_support.h"

using namespace sfvu;
using namespace sfvu::grounding;
namespace fs = std::filesystem;

namespace {

LearnedModelConfig tiny_config(int64_t vocab, const std::string& stem = "patch", const std::string& qa = "option",
                               double motion_seconds = 0) {
  LearnedModelConfig c;
  c.fusion.motion_seconds = motion_seconds;
  c.qa_scoring = qa;
  c.qa_option_text = qa == "option" ? "question_option" : "option";
  c.fusion.detail_probe = true;
  auto& v = c.backbone.vision;
  v.image_size = 32;
  v.patch_size = 8;
  v.stem = stem;
  v.hidden_size = 16;
  v.intermediate_size = 32;
  v.num_hidden_layers = 1;
  v.num_attention_heads = 2;
  auto& t = c.backbone.text;
  t.hidden_size = 16;
  t.intermediate_size = 32;
  t.num_hidden_layers = 1;
  t.num_attention_heads = 2;
  t.vocab_size = int(vocab);
  t.max_position_embeddings = 16;
  c.max_text_tokens = 16;
  c.backbone.projection_dim = v.projection_dim = t.projection_dim = 16;
  c.slowfast.fast = {8.0, 0, 16, 2, 2, false};
  c.fusion.d_model = 16;
  c.fusion.num_heads = 2;
  return c;
}

std::shared_ptr<LearnedModelImpl> tiny_model(const std::string& stem = "patch", const std::string& qa = "option",
                                             double motion_seconds = 0) {
  torch::manual_seed(0);
  auto words = std::make_shared<const fusion::WordTokenizer>(
      fusion::WordTokenizer::from_texts({"the red square moves left", "what colour"}));
  return std::make_shared<LearnedModelImpl>(tiny_config(words->vocab_size(), stem, qa, motion_seconds), words, nullptr);
}

// A video whose frames brighten inside [2, 3) s.
VideoFeatures tiny_video(LearnedModelImpl& m) {
  torch::Tensor slow = torch::full({4, 32, 32, 3}, 40, torch::kUInt8);
  torch::Tensor fast = torch::full({32, 16, 16, 3}, 40, torch::kUInt8);
  slow[2].fill_(220);
  fast.slice(0, 16, 24).fill_(220);
  std::vector<double> ss{0, 1, 2, 3}, fs;
  for (int i = 0; i < 32; ++i) fs.push_back(i / 8.0);
  return m.encode_frames(slow, ss, fast, fs, 4.0);
}

// A feature model (Note [Feature input]): two sources of 6 and 4 columns, queries of 5.
std::shared_ptr<LearnedModelImpl> tiny_feature_model() {
  torch::manual_seed(0);
  LearnedModelConfig c;
  c.input = "features";
  c.features.sources = {"slowfast", "clip"};
  c.features.source_dims = {6, 4};
  c.features.detail_source = "clip";
  c.features.query_dim = 5;
  c.fusion.d_model = 16;
  c.fusion.num_heads = 2;
  return std::make_shared<LearnedModelImpl>(c, nullptr, nullptr);
}

// 10 clip rows as FeatureReader::video gives them; rows 4..6 carry a signal.
VideoFeatures tiny_feature_video() {
  torch::Tensor rows = torch::zeros({10, 12});
  rows.slice(0, 4, 7).slice(1, 0, 10).fill_(1.0);
  VideoFeatures v;
  v.fast = rows.reshape({10, 1, 1, 12});
  v.slow = rows.slice(1, 6, 10).reshape({10, 1, 1, 4});
  for (int i = 0; i < 10; ++i) v.fast_seconds.push_back(2.0 * i + 1);
  v.slow_seconds = v.fast_seconds;
  v.duration_seconds = 20;
  return v;
}

}  // namespace

TEST(GroundingLosses, GeneralizedIou1d) {
  torch::Tensor iou;
  torch::Tensor g = generalized_iou_1d(torch::tensor({0.0, 0.0}), torch::tensor({2.0, 1.0}), torch::tensor({1.0, 2.0}),
                                       torch::tensor({3.0, 3.0}), &iou);
  EXPECT_NEAR(iou[0].item<double>(), 1.0 / 3, 1e-6);
  EXPECT_NEAR(g[0].item<double>(), 1.0 / 3, 1e-6);
  EXPECT_NEAR(iou[1].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(g[1].item<double>(), -1.0 / 3, 1e-6);  // gap 1 in a hull of 3
}

TEST(GroundingLosses, InsideWindowsIncludesBothEndsOfEveryWindow) {
  const std::vector<double> times = {0.0, 1.0, 1.5, 2.0, 2.5, 4.0, 5.0, 6.5};
  const std::vector<float> inside = inside_windows({{1.0, 2.0}, {4.0, 4.0}, {6.0, 7.0}}, times);
  EXPECT_EQ(inside, (std::vector<float>{0, 1, 1, 1, 0, 1, 0, 1}));
  EXPECT_EQ(inside_windows({}, times), std::vector<float>(times.size(), 0.f));
  EXPECT_TRUE(inside_windows({{0.0, 9.0}}, {}).empty());
}

TEST(GroundingLosses, FrameContrastIsTheMassOutsideAndPushesTheBestOutsideFrameHardest) {
  const std::vector<double> times = {0, 1, 2, 3};
  torch::Tensor logits = torch::tensor({0.0, std::log(3.0), 0.0, 0.0, std::log(2.0), std::log(2.0), 0.0, 0.0,
                                        1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0})
                             .reshape({4, 4})
                             .requires_grad_();
  // Row 0: frame 1 inside, 3 / 6 of the mass; row 1: frames 0-1, 4 / 6; row 2 is inside
  // everywhere and row 3 nowhere: neither ranks anything, both are left out of the mean.
  torch::Tensor loss = frame_contrast_loss(logits, {{{1.0, 1.0}}, {{0.0, 1.0}}, {{0.0, 3.0}}, {}}, times);
  EXPECT_NEAR(loss.item<double>(), (std::log(2.0) + std::log(1.5)) / 2, 1e-6);
  loss.backward();
  torch::Tensor g = logits.grad();
  EXPECT_LT(g[0][1].item<double>(), 0);  // the inside frame is pulled up
  EXPECT_GT(g[0][0].item<double>(), 0);
  EXPECT_NEAR(g[2].abs().sum().item<double>(), 0, 1e-9);
  EXPECT_NEAR(g[3].abs().sum().item<double>(), 0, 1e-9);
  // Unlike a per-frame BCE, the outside frame that scores highest takes most of the push.
  torch::Tensor hard = torch::tensor({{0.0, 2.0, -2.0}}).requires_grad_();
  frame_contrast_loss(hard, {{{0.0, 0.5}}}, {0, 1, 2}).backward();
  EXPECT_GT(hard.grad()[0][1].item<double>(), 10 * hard.grad()[0][2].item<double>());
  EXPECT_THROW(frame_contrast_loss(hard, {{}, {}}, {0, 1, 2}), UsageError);
}

TEST(GroundingLosses, PointsTakeWindowsOfTheirScaleAndEveryWindowTrains) {
  GroundingOutput out;
  out.step_seconds = 0.125;
  for (int l = 0; l < 3; ++l)
    for (double t = 0; t < 20; t += 0.125 * (1 << l)) {
      out.point_seconds.push_back(t);
      out.point_level.push_back(l);
    }
  // A 1 s flash (level 0 only), a 3 s move (levels 1 and 2) and a window shorter than a step.
  std::vector<Window> w{{2.0, 3.0}, {10.0, 13.0}, {15.01, 15.05}};
  std::vector<int64_t> owner = assign_points(out, w, 3);
  int by_window_level[3][3] = {};
  for (size_t i = 0; i < owner.size(); ++i)
    if (owner[i] >= 0) ++by_window_level[owner[i]][out.point_level[i]];
  EXPECT_EQ(by_window_level[0][0], 9);  // 8 steps long: levels 0 and 1, not 2
  EXPECT_EQ(by_window_level[0][1], 5);
  EXPECT_EQ(by_window_level[0][2], 0);
  EXPECT_EQ(by_window_level[1][0], 0);
  EXPECT_GT(by_window_level[1][1], 0);
  EXPECT_GT(by_window_level[1][2], 0);
  EXPECT_EQ(by_window_level[2][0], 1);  // the nearest level-0 point
}

TEST(LearnedModel, SaveLoadRoundTripGivesTheSameAnswers) {
  auto m = tiny_model();
  m->eval();
  const std::string dir = test::scratch_dir("learned_model_roundtrip");
  m->save(dir);
  EXPECT_TRUE(LearnedModelConfig::is_learned_model_dir(dir));
  auto loaded = LearnedModelImpl::load(dir);
  torch::NoGradGuard no_grad;
  VideoFeatures v = tiny_video(*m);
  std::vector<double> t1, t2;
  GroundingOutput a = m->ground(v, m->encode_text({"the red square"}), &t1);
  GroundingOutput b = loaded->ground(tiny_video(*loaded), loaded->encode_text({"the red square"}), &t2);
  EXPECT_TRUE(torch::allclose(a.logits, b.logits));
  EXPECT_TRUE(torch::allclose(a.saliency, b.saliency));
  EXPECT_EQ(loaded->config().to_json(), m->config().to_json());
}

// Note [Motion tokens]: each step's tokens, then their change over +-offset steps, clamped.
TEST(MotionTokens, JoinEachStepByItsChangeAroundIt) {
  torch::Tensor grid = torch::arange(5, torch::kFloat32).reshape({5, 1, 1, 1}).expand({5, 2, 1, 1}).contiguous();
  torch::Tensor m = with_motion(grid, 2);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{5, 2, 1, 2}));
  EXPECT_TRUE(torch::equal(m.select(3, 0), grid.select(3, 0)));
  // t=0: grid[2]-grid[0]; t=1: grid[3]-grid[0]; t=2: grid[4]-grid[0]; t=3: grid[4]-grid[1]; t=4: grid[4]-grid[2].
  EXPECT_TRUE(torch::equal(m.select(3, 1).select(2, 0).select(1, 1), torch::tensor({2.f, 3.f, 4.f, 3.f, 2.f})));
  EXPECT_THROW(with_motion(grid, 0), UsageError);
  EXPECT_THROW(with_motion(grid.reshape({5, 2}), 1), UsageError);
  // The offset is fusion.motion_seconds in the timeline's steps: 1 s is 8 fast steps, 1 slow.
  EXPECT_EQ(motion_steps({0.0625, 0.1875, 0.3125, 0.4375}, 1.0), 8);
  EXPECT_EQ(motion_steps({0.5, 1.5, 2.5}, 1.0), 1);
  EXPECT_EQ(motion_steps({0.5, 1.5, 2.5}, 0.25), 1);  // at least one step
  EXPECT_EQ(motion_steps({0.5}, 1.0), 1);
}

TEST(LearnedModel, AMotionTokenModelIsTwiceAsWideAndRoundTrips) {
  auto m = tiny_model("patch", "option", /*motion_seconds=*/0.25);
  auto plain = tiny_model();
  EXPECT_EQ(m->config().fusion.timeline_dim, 2 * plain->config().fusion.timeline_dim);
  EXPECT_EQ(m->config().fusion.timeline_token_dim, 2 * plain->config().fusion.timeline_token_dim);
  m->eval();
  const std::string dir = test::scratch_dir("learned_model_motion");
  m->save(dir);
  EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["fusion"]["motion_seconds"], 0.25);
  auto loaded = LearnedModelImpl::load(dir);
  torch::NoGradGuard no_grad;
  std::vector<double> t1, t2;
  GroundingOutput a = m->ground(tiny_video(*m), m->encode_text({"the red square"}), &t1);
  GroundingOutput b = loaded->ground(tiny_video(*loaded), loaded->encode_text({"the red square"}), &t2);
  EXPECT_TRUE(torch::allclose(a.saliency, b.saliency));
  EXPECT_EQ(loaded->config().fusion.motion_seconds, 0.25);
}

// Note [Motion match]: a bright block crosses from the left half of the 16-px fast frames to
// the right half in [1, 1.5) s and back in [2.5, 3) s.
VideoFeatures crossing_video(LearnedModelImpl& m) {
  torch::Tensor fast = torch::full({32, 16, 16, 3}, 40, torch::kUInt8);
  std::vector<double> fs;
  for (int i = 0; i < 32; ++i) {
    const double t = i / 8.0;
    const double x = t < 1 ? 1 : t < 1.5 ? 1 + 16 * (t - 1) : t < 2.5 ? 9 : t < 3 ? 9 - 16 * (t - 2.5) : 1;
    fast[i].slice(0, 5, 11).slice(1, int64_t(x), int64_t(x) + 6).fill_(230);
    fs.push_back(t);
  }
  return m.encode_frames(torch::full({4, 32, 32, 3}, 40, torch::kUInt8), {0, 1, 2, 3}, fast, fs, 4.0);
}

// `steps` AdamW steps of BCE between `logits(model)` and `target`; leaves the model in eval mode.
template <typename Logits>
void fit_match(LearnedModelImpl& model, Logits&& logits, const torch::Tensor& target, int steps) {
  model.train();
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(3e-3));
  for (int i = 0; i < steps; ++i) {
    torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits(model), target);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  model.eval();
}

TEST(LearnedModel, TheMotionMatchLearnsWhichWayAShapeMovesAndRoundTrips) {
  torch::manual_seed(0);
  const std::vector<std::string> texts{"the block moves right", "the block moves left"};
  auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts(texts));
  LearnedModelConfig c = tiny_config(words->vocab_size(), "patch", "option", /*motion_seconds=*/0.25);
  c.fusion.motion_match = 16;
  auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
  // Steps inside each move: [1, 1.5) and [2.5, 3).
  torch::Tensor right = torch::zeros({32}), left = torch::zeros({32});
  right.slice(0, 8, 12).fill_(1);
  left.slice(0, 20, 24).fill_(1);
  torch::Tensor target = torch::stack({right, left});
  auto logits = [&](LearnedModelImpl& model) {
    torch::Tensor motion;
    std::vector<double> times;
    model.ground(crossing_video(model), model.encode_text(texts), &times, nullptr, nullptr, &motion);
    EXPECT_EQ(motion.sizes(), (std::vector<int64_t>{2, 32}));
    return motion;
  };
  fit_match(*m, logits, target, 80);
  torch::NoGradGuard no_grad;
  torch::Tensor s = logits(*m);
  auto mean_over = [](const torch::Tensor& row, const torch::Tensor& mask) { return (row * mask).sum().item<double>() / 4; };
  EXPECT_GT(mean_over(s[0], right), mean_over(s[0], left) + 1.0);  // "moves right" scores the move right
  EXPECT_GT(mean_over(s[1], left), mean_over(s[1], right) + 1.0);  // and "moves left" the move back
  const std::string dir = test::scratch_dir("learned_model_motion_match");
  m->save(dir);
  EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["fusion"]["motion_match"], 16);
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_TRUE(torch::allclose(logits(*loaded), s));
  EXPECT_THROW(tiny_model()->motion_logits(crossing_video(*m).fast, m->encode_text(texts)), UsageError);
}

// Note [Motion match]: a bright block shows at one place for 0.5 s ([0.5, 1) s) and for 2 s
// ([2, 4) s) of a 5-s video. Step by step the two look the same; only steps around them differ.
VideoFeatures flash_video(LearnedModelImpl& m) {
  torch::Tensor fast = torch::full({40, 16, 16, 3}, 40, torch::kUInt8);
  std::vector<double> fs;
  for (int i = 0; i < 40; ++i) {
    const double t = i / 8.0;
    if ((t >= 0.5 && t < 1) || (t >= 2 && t < 4)) fast[i].slice(0, 5, 11).slice(1, 1, 7).fill_(230);
    fs.push_back(t);
  }
  return m.encode_frames(torch::full({5, 32, 32, 3}, 40, torch::kUInt8), {0, 1, 2, 3, 4}, fast, fs, 5.0);
}

TEST(LearnedModel, TheMatchesStepsAroundTellAFlashFromALongDisplay) {
  torch::Tensor flash = torch::zeros({40}), display = torch::zeros({40});
  flash.slice(0, 4, 8).fill_(1);
  display.slice(0, 20, 24).fill_(1);  // the display's middle 0.5 s
  for (int steps : {1, 9}) {
    torch::manual_seed(0);
    const std::vector<std::string> texts{"the block flashes"};
    auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts(texts));
    LearnedModelConfig c = tiny_config(words->vocab_size());
    c.fusion.motion_match = 16;
    c.fusion.motion_match_steps = steps;
    auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
    auto logits = [&](LearnedModelImpl& model) {
      torch::Tensor motion;
      std::vector<double> times;
      model.ground(flash_video(model), model.encode_text(texts), &times, nullptr, nullptr, &motion);
      return motion[0];
    };
    fit_match(*m, logits, flash, 60);
    torch::NoGradGuard no_grad;
    torch::Tensor s = logits(*m);
    const double in_flash = (s * flash).sum().item<double>() / 4, in_display = (s * display).sum().item<double>() / 4;
    if (steps == 1) {  // each step alone: a step of the flash is a step of the display
      EXPECT_NEAR(in_flash, in_display, 1e-4);
      continue;
    }
    EXPECT_GT(in_flash, in_display + 1.0);
    const std::string dir = test::scratch_dir("learned_model_match_steps");
    m->save(dir);
    EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["fusion"]["motion_match_steps"], 9);
    EXPECT_TRUE(torch::allclose(logits(*LearnedModelImpl::load(dir)), s));
  }
}

// Note [Place flow]: each place joined by its motion and the motion's mean over +-window steps.
TEST(PlaceFlow, TheTimelineReadsEachPlacesMotionAndItsWindowMean) {
  torch::Tensor grid = torch::zeros({4, 1, 2, 3});
  torch::Tensor flow = torch::zeros({4, 1, 2, 2});
  flow.select(3, 0).select(2, 1).copy_(torch::tensor({{0.f}, {4.f}, {8.f}, {0.f}}));
  torch::Tensor g = with_flow(grid, flow, 1);
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{4, 1, 2, 7}));
  EXPECT_TRUE(torch::equal(g.narrow(3, 3, 2), flow));
  // Means of u at place 1 over [0,1], [0,2], [1,3], [2,3].
  EXPECT_TRUE(torch::allclose(g.select(3, 5).select(2, 1).squeeze(1), torch::tensor({2.f, 4.f, 4.f, 4.f})));
  EXPECT_THROW(with_flow(grid, flow.narrow(0, 0, 3), 1), UsageError);
  EXPECT_THROW(with_flow(grid, flow, -1), UsageError);
}

TEST(LearnedModel, AFlowModelReadsTheFastFramesMotionAndNeedsIt) {
  torch::manual_seed(0);
  auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts({"the red square"}));
  LearnedModelConfig c = tiny_config(words->vocab_size(), "patch", "option", /*motion_seconds=*/0.25);
  c.slowfast.fast_flow = true;
  auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
  EXPECT_EQ(m->config().fusion.timeline_token_dim, 2 * 16 + 4);
  m->eval();
  torch::NoGradGuard no_grad;
  VideoFeatures v = tiny_video(*m);
  ASSERT_EQ(v.fast_flow.sizes(), (std::vector<int64_t>{32, 2, 2, 2}));
  std::vector<double> times;
  GroundingOutput a = m->ground(v, m->encode_text({"the red square"}), &times);
  const std::string dir = test::scratch_dir("learned_model_flow");
  m->save(dir);
  EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["slowfast"]["fast_flow"], true);
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_TRUE(torch::allclose(loaded->ground(tiny_video(*loaded), loaded->encode_text({"the red square"}), &times).saliency,
                              a.saliency));
  v.fast_flow = torch::Tensor();  // tokens encoded without it
  EXPECT_THROW(m->ground(v, m->encode_text({"the red square"}), &times), FormatError);
}

// Note [Flow scale]: each step's flow channels in units of 0.5 px times the step's RMS over its
// other channels, so a place norm passes on the same flow whatever the size of the tokens.
TEST(PlaceFlow, TokenScaledFlowIsTheSameToANormWhateverTheTokensSize) {
  torch::manual_seed(5);
  torch::Tensor grid = torch::randn({3, 2, 2, 12});  // 8 token and change channels, 4 flow
  torch::Tensor scaled = flow_to_token_scale(grid);
  ASSERT_EQ(scaled.sizes(), grid.sizes());
  EXPECT_TRUE(torch::equal(scaled.narrow(3, 0, 8), grid.narrow(3, 0, 8)));
  for (int64_t t = 0; t < 3; ++t) {
    const double rms = grid[t].narrow(2, 0, 8).pow(2).mean().sqrt().item<double>();
    EXPECT_TRUE(torch::allclose(scaled[t].narrow(2, 8, 4), grid[t].narrow(2, 8, 4) * (rms / 0.5))) << t;
  }
  auto norm = [](const torch::Tensor& g) { return torch::layer_norm(g, {g.size(3)}); };
  torch::Tensor louder = grid.clone();
  louder.narrow(3, 0, 8).mul_(3);  // the backbone's tokens three times as large
  EXPECT_TRUE(torch::allclose(norm(flow_to_token_scale(louder)), norm(scaled), 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(norm(louder), norm(grid), 1e-2, 1e-2));  // raw: the flow's part shrinks
  // No gradient reaches the tokens through the scale.
  torch::Tensor g = grid.clone().requires_grad_(true);
  flow_to_token_scale(g).narrow(3, 8, 4).sum().backward();
  EXPECT_TRUE(torch::equal(g.grad().narrow(3, 0, 8), torch::zeros({3, 2, 2, 8})));
  EXPECT_THROW(flow_to_token_scale(torch::zeros({3, 2, 4})), UsageError);
  EXPECT_THROW(flow_to_token_scale(torch::zeros({3, 2, 2, 4})), UsageError);
}

TEST(LearnedModel, AFlowScaleModelReadsTheScaledFlowAndRoundTrips) {
  torch::manual_seed(0);
  auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts({"the red square"}));
  LearnedModelConfig c = tiny_config(words->vocab_size(), "patch", "option", /*motion_seconds=*/0.25);
  c.slowfast.fast_flow = true;
  c.fusion.motion_match = 8;
  c.fusion.flow_scale = "tokens";
  auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
  m->eval();
  torch::NoGradGuard no_grad;
  VideoFeatures v = tiny_video(*m);
  v.fast_flow = torch::randn(v.fast_flow.sizes());  // a video where things move
  const TextBatch text = m->encode_text({"the red square"});
  std::vector<double> times;
  torch::Tensor motion;
  const torch::Tensor a = m->ground(v, text, &times, nullptr, nullptr, &motion).saliency;
  const std::string dir = test::scratch_dir("learned_model_flow_scale");
  m->save(dir);
  nlohmann::json f = pathways::read_json_file(dir + "/config.json")["fusion"];
  EXPECT_EQ(f["flow_scale"], "tokens");
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_EQ(loaded->config().fusion.flow_scale, "tokens");
  EXPECT_TRUE(torch::allclose(loaded->ground(v, text, &times).saliency, a));
  // The same weights reading the raw flow match otherwise.
  const std::string raw_dir = test::scratch_dir("learned_model_flow_raw");
  for (const char* file : {"model.safetensors", "tokenizer_words.json"})
    fs::copy_file(dir + "/" + file, raw_dir + "/" + file, fs::copy_options::overwrite_existing);
  nlohmann::json config = pathways::read_json_file(dir + "/config.json");
  config["fusion"]["flow_scale"] = "raw";
  std::ofstream(raw_dir + "/config.json") << config.dump();
  torch::Tensor raw_motion;
  LearnedModelImpl::load(raw_dir)->ground(v, text, &times, nullptr, nullptr, &raw_motion);
  ASSERT_TRUE(raw_motion.defined());
  EXPECT_FALSE(torch::allclose(raw_motion, motion, 1e-3, 1e-3));
  f.erase("flow_scale");  // a config before the key
  EXPECT_EQ(fusion::FusionConfig::from_json(f, "config.json").flow_scale, "raw");
  f["flow_scale"] = "pixels";
  EXPECT_THROW(fusion::FusionConfig::from_json(f, "config.json"), FormatError);
}

// Note [Flow gain]: a fresh flow model's norms give each place's 4 flow channels the gain that
// matches the rest of its channels; a loaded model keeps the gains it was saved with.
TEST(LearnedModel, AFreshFlowModelStartsTheFlowAsLoudAsTheTokens) {
  torch::manual_seed(0);
  auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts({"the red square"}));
  LearnedModelConfig c = tiny_config(words->vocab_size(), "patch", "option", /*motion_seconds=*/0.25);
  c.slowfast.fast_flow = true;
  c.fusion.motion_match = 8;
  auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
  const int64_t width = m->config().fusion.timeline_token_dim;  // 2 x 16 + 4
  ASSERT_EQ(width, 36);
  auto params = m->named_parameters();
  const float gain = std::sqrt(32.f / 4.f);
  auto expect_gains = [&](const std::string& name, int64_t places) {
    SCOPED_TRACE(name);
    torch::Tensor weight = params[name];
    ASSERT_EQ(weight.numel(), places * width);
    torch::Tensor w = weight.view({places, width});
    EXPECT_TRUE(torch::allclose(w.narrow(1, 0, width - 4), torch::ones({places, width - 4})));
    EXPECT_TRUE(torch::allclose(w.narrow(1, width - 4, 4), torch::full({places, 4}, gain)));
  };
  expect_gains("fusion.timeline_norm.weight", 4);  // a 2x2 fast grid
  expect_gains("fusion.step_norm.weight", 1);
  expect_gains("motion_norm.weight", 1);
  {
    torch::NoGradGuard no_grad;
    params["motion_norm.weight"].fill_(0.5);
  }
  const std::string dir = test::scratch_dir("learned_model_flow_gain");
  m->save(dir);
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_TRUE(torch::equal(loaded->named_parameters()["motion_norm.weight"], params["motion_norm.weight"]));
  // Without the flow there is nothing to raise.
  c.slowfast.fast_flow = false;
  auto plain = std::make_shared<LearnedModelImpl>(c, words, nullptr);
  for (const auto& p : plain->named_parameters()) {
    if (p.key().find("norm.weight") == std::string::npos) continue;
    EXPECT_TRUE(torch::equal(p.value(), torch::ones_like(p.value()))) << p.key();
  }
}

// Note [Alignment pooling]: "place" scores a frame by its best place, so two places score
// the better of the two alone; "channel" takes each channel's maximum first, so they score
// something else, and a place repeated adds nothing.
TEST(LearnedModel, ChannelPoolingScoresTheChannelsMaximaNotTheBestPlace) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const torch::Tensor a = torch::randn({1, 1, 1, 16}), b = torch::randn({1, 1, 1, 16});
  const torch::Tensor both = torch::cat({a, b}, 2), twice = torch::cat({a, a}, 2);  // [1, 1, 2, 16]
  std::map<std::string, std::shared_ptr<LearnedModelImpl>> models;
  for (const char* pool : {"place", "channel"}) {
    torch::manual_seed(0);
    auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts({"the red square"}));
    LearnedModelConfig c = tiny_config(words->vocab_size(), "patch", "option", 0);
    c.fusion.align_pool = pool;
    models[pool] = std::make_shared<LearnedModelImpl>(c, words, nullptr);
  }
  for (auto& [pool, m] : models) {
    const TextBatch text = m->encode_text({"the red square", "red"});
    const torch::Tensor la = m->align_logits(a, text), lb = m->align_logits(b, text);
    const torch::Tensor l2 = m->align_logits(both, text);
    ASSERT_EQ(l2.sizes(), (std::vector<int64_t>{2, 1}));
    EXPECT_TRUE(torch::allclose(m->align_logits(twice, text), la, 1e-5, 1e-5)) << pool;
    if (pool == "place")
      EXPECT_TRUE(torch::allclose(l2, torch::max(la, lb), 1e-5, 1e-5));
    else
      EXPECT_GT((l2 - torch::max(la, lb)).abs().max().item<double>(), 1e-3);
  }
  // Same weights, same single-place scores: the pooling is all that differs.
  const TextBatch text = models["place"]->encode_text({"the red square"});
  EXPECT_TRUE(torch::allclose(models["place"]->align_logits(a, text), models["channel"]->align_logits(a, text)));
  // The key round-trips, an older config without it reads "place", an unknown value is refused.
  const std::string dir = test::scratch_dir("learned_model_align_pool");
  models["channel"]->save(dir);
  EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["fusion"]["align_pool"], "channel");
  EXPECT_EQ(LearnedModelImpl::load(dir)->config().fusion.align_pool, "channel");
  nlohmann::json f = models["place"]->config().fusion.to_json();
  f.erase("align_pool");
  EXPECT_EQ(fusion::FusionConfig::from_json(f, "config.json").align_pool, "place");
  f["align_pool"] = "mean";
  EXPECT_THROW(fusion::FusionConfig::from_json(f, "config.json"), FormatError);
}

// Note [Alignment heads]: "shared" scores slow and fast frames with one head; "pathway" gives
// the fast frames their own, which round-trips through save/load; older configs read "shared".
TEST(LearnedModel, PathwayAlignmentHeadsScoreTheFastFramesApart) {
  torch::NoGradGuard no_grad;
  const torch::Tensor frames = torch::randn({3, 2, 2, 16});
  auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts({"the red square"}));
  for (const char* heads : {"shared", "pathway"}) {
    torch::manual_seed(0);
    LearnedModelConfig c = tiny_config(words->vocab_size());
    c.fusion.align_heads = heads;
    auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
    const TextBatch text = m->encode_text({"the red square", "red"});
    const torch::Tensor slow = m->align_logits(frames, text, AlignFrames::kSlow);
    const torch::Tensor fast = m->align_logits(frames, text, AlignFrames::kFast);
    ASSERT_EQ(fast.sizes(), (std::vector<int64_t>{2, 3}));
    EXPECT_TRUE(torch::equal(slow, m->align_logits(frames, text))) << heads;  // slow is the default
    bool has_fast_head = false;
    for (const auto& p : m->named_parameters()) has_fast_head |= p.key().rfind("align_frame_fast.", 0) == 0;
    if (std::string(heads) == "shared") {
      EXPECT_TRUE(torch::equal(slow, fast));
      EXPECT_FALSE(has_fast_head);
      continue;
    }
    EXPECT_TRUE(has_fast_head);
    EXPECT_GT((slow - fast).abs().max().item<double>(), 1e-3);
    const std::string dir = test::scratch_dir("learned_model_align_heads");
    m->save(dir);
    auto loaded = LearnedModelImpl::load(dir);
    EXPECT_EQ(loaded->config().fusion.align_heads, "pathway");
    EXPECT_TRUE(torch::allclose(loaded->align_logits(frames, text, AlignFrames::kFast), fast, 1e-6, 1e-6));
    nlohmann::json f = m->config().fusion.to_json();
    f.erase("align_heads");
    EXPECT_EQ(fusion::FusionConfig::from_json(f, "config.json").align_heads, "shared");
    f["align_heads"] = "both";
    EXPECT_THROW(fusion::FusionConfig::from_json(f, "config.json"), FormatError);
  }
}

// Note [Detail match]: at initialisation the detail gate is shut, so only the detail match lets
// the slow frames change the grounding.
TEST(LearnedModel, TheDetailMatchLetsTheSlowFramesInPastTheShutGate) {
  for (bool detail_match : {false, true}) {
    torch::manual_seed(0);
    auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts({"the red square"}));
    LearnedModelConfig c = tiny_config(words->vocab_size(), "patch", "option", /*motion_seconds=*/0.25);
    c.fusion.motion_match = 8;
    c.fusion.detail_match = detail_match;
    auto m = std::make_shared<LearnedModelImpl>(c, words, nullptr);
    m->eval();
    torch::NoGradGuard no_grad;
    ASSERT_EQ(m->detail_gate(), 0.0);
    VideoFeatures v = tiny_video(*m), brighter = v;
    brighter.slow = v.slow + 1.0;
    std::vector<double> times;
    TextBatch text = m->encode_text({"the red square"});
    const bool same = torch::allclose(m->ground(v, text, &times).saliency, m->ground(brighter, text, &times).saliency);
    EXPECT_EQ(same, !detail_match) << "detail_match " << detail_match;
    if (!detail_match) continue;
    const std::string dir = test::scratch_dir("learned_model_detail_match");
    m->save(dir);
    EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["fusion"]["detail_match"], true);
    auto loaded = LearnedModelImpl::load(dir);
    EXPECT_TRUE(torch::allclose(loaded->ground(v, text, &times).saliency, m->ground(v, text, &times).saliency));
  }
}

// A stem changes how tokens are made, never the grid: `m`'s features have the shapes of a
// "patch" model's.
VideoFeatures features_on_the_patch_grid(LearnedModelImpl& m) {
  VideoFeatures v = tiny_video(m);
  auto p = tiny_model("patch");
  p->eval();
  VideoFeatures w = tiny_video(*p);
  EXPECT_EQ(v.slow.sizes(), w.slow.sizes());
  EXPECT_EQ(v.fast.sizes(), w.fast.sizes());
  return v;
}

TEST(LearnedModel, AConvStemModelRoundTripsWithTheSameGrid) {
  // Note [Convolutional stem]: three 3x3 stride-2 convolutions and a 1x1 for patch 8, the
  // same token grid as the patch stem at every input size.
  auto m = tiny_model("conv");
  m->eval();
  std::vector<std::string> names;
  for (const auto& p : m->named_parameters()) names.push_back(p.key());
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  EXPECT_TRUE(has("backbone.vision_model.embeddings.stem.0.weight"));
  EXPECT_TRUE(has("backbone.vision_model.embeddings.stem.3.weight"));
  EXPECT_FALSE(has("backbone.vision_model.embeddings.stem.4.weight"));
  EXPECT_FALSE(has("backbone.vision_model.embeddings.patch_embedding.weight"));
  torch::NoGradGuard no_grad;
  VideoFeatures v = features_on_the_patch_grid(*m);
  const std::string dir = test::scratch_dir("learned_model_conv_stem");
  m->save(dir);
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_EQ(loaded->config().backbone.vision.stem, "conv");
  std::vector<double> t1, t2;
  GroundingOutput a = m->ground(v, m->encode_text({"the red square"}), &t1);
  GroundingOutput b = loaded->ground(tiny_video(*loaded), loaded->encode_text({"the red square"}), &t2);
  EXPECT_TRUE(torch::allclose(a.logits, b.logits));
}

TEST(LearnedModel, APixelStemModelAddsMaxPooledDetectorsAndRoundTrips) {
  // Note [Pixel stem]: the patch projection plus 3x3 full-resolution detectors, max-pooled per
  // patch and projected by a 1x1; same grid as "patch"; the detail path reaches the tokens.
  auto m = tiny_model("pixel");
  m->eval();
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : m->named_parameters()) params[p.key()] = p.value();
  const std::string e = "backbone.vision_model.embeddings.";
  ASSERT_EQ(params.count(e + "patch_embedding.weight"), 1u);
  ASSERT_EQ(params.count(e + "pixel_conv.weight"), 1u);
  ASSERT_EQ(params.count(e + "pixel_proj.weight"), 1u);
  EXPECT_EQ(params[e + "pixel_conv.weight"].sizes(),
            (std::vector<int64_t>{pathways::ClipVisionEmbeddingsImpl::kPixelChannels, 3, 3, 3}));
  torch::NoGradGuard no_grad;
  VideoFeatures v = features_on_the_patch_grid(*m);
  const std::string dir = test::scratch_dir("learned_model_pixel_stem");
  m->save(dir);
  EXPECT_EQ(pathways::read_json_file(dir + "/config.json")["backbone"]["vision_config"]["stem"], "pixel");
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_EQ(loaded->config().backbone.vision.stem, "pixel");
  EXPECT_TRUE(torch::allclose(tiny_video(*loaded).slow, v.slow));
  params[e + "pixel_proj.weight"].mul_(3.0);  // the detail path is wired into the tokens
  EXPECT_FALSE(torch::allclose(tiny_video(*m).slow, v.slow));
}

TEST(LearnedModel, StemKeyIsCheckedAndWrittenOnlyWhenNotPatch) {
  pathways::ClipConfig c;
  EXPECT_EQ(nlohmann::json::parse(c.to_json_text())["vision_config"].count("stem"), 0u);  // HF configs unchanged
  c.vision.stem = "conv";
  c.vision.image_size = 32;
  c.vision.patch_size = 8;
  EXPECT_EQ(pathways::ClipConfig::from_json_text(c.to_json_text(), "x").vision.stem, "conv");
  nlohmann::json j = nlohmann::json::parse(c.to_json_text());
  j["vision_config"]["stem"] = "resnet";
  test::expect_error<FormatError>([&] { pathways::ClipConfig::from_json_text(j.dump(), "cfg.json"); },
                                  {"cfg.json", "stem", "resnet"});
  j["vision_config"]["stem"] = "pixel";
  EXPECT_EQ(pathways::ClipConfig::from_json_text(j.dump(), "cfg.json").vision.stem, "pixel");
  j["vision_config"]["stem"] = "conv";
  j["vision_config"]["patch_size"] = 4;
  j["vision_config"]["image_size"] = 12;
  EXPECT_NO_THROW(pathways::ClipConfig::from_json_text(j.dump(), "cfg.json"));
  j["vision_config"]["patch_size"] = 6;
  test::expect_error<FormatError>([&] { pathways::ClipConfig::from_json_text(j.dump(), "cfg.json"); },
                                  {"cfg.json", "power-of-two", "6"});
}

TEST(LearnedModel, QaScoringAndOptionTextAreVersionedInTheConfig) {
  auto m = tiny_model();
  nlohmann::json j = m->config().to_json();
  EXPECT_EQ(j["qa"]["scoring"], "option");
  EXPECT_EQ(j["qa"]["option_text"], "question_option");
  LearnedModelConfig c = LearnedModelConfig::from_json(j, "x");
  EXPECT_EQ(c.qa_scoring, "option");
  EXPECT_EQ(c.qa_option_text, "question_option");
  j["qa"] = {{"option_text", "option"}};  // written before options were fused
  c = LearnedModelConfig::from_json(j, "x");
  EXPECT_EQ(c.qa_scoring, "question");
  EXPECT_EQ(c.qa_option_text, "option");
  j.erase("qa");  // written before the option was read alone
  c = LearnedModelConfig::from_json(j, "x");
  EXPECT_EQ(c.qa_scoring, "question");
  EXPECT_EQ(c.qa_option_text, "question_option");
  j["qa"] = {{"option_text", "answer"}};
  test::expect_error<FormatError>([&] { LearnedModelConfig::from_json(j, "config.json"); },
                                  {"config.json", "option_text", "answer"});
  j["qa"] = {{"scoring", "vote"}};
  test::expect_error<FormatError>([&] { LearnedModelConfig::from_json(j, "config.json"); },
                                  {"config.json", "scoring", "vote"});
  j["qa"] = {{"scoring", "option"}, {"option_text", "option"}};
  test::expect_error<FormatError>([&] { LearnedModelConfig::from_json(j, "config.json"); },
                                  {"config.json", "scoring", "question_option"});
}

TEST(LearnedModel, QuestionFusedModelsRoundTripWithTheirOwnQaHead) {
  auto m = tiny_model("patch", "question");
  m->eval();
  const std::string dir = test::scratch_dir("learned_model_question_qa");
  m->save(dir);
  auto back = LearnedModelImpl::load(dir);
  EXPECT_EQ(back->config().qa_scoring, "question");
  torch::NoGradGuard no_grad;
  VideoFeatures v = tiny_video(*m);
  torch::Tensor a = m->qa_scores(v, {"what colour"}, {{"red", "left"}});
  torch::Tensor b = back->qa_scores(v, {"what colour"}, {{"red", "left"}});
  EXPECT_TRUE(torch::allclose(a, b));
  // An option-fused checkpoint has no option projection: declared question-fused, it names
  // the tensors it lacks.
  const std::string option_dir = test::scratch_dir("learned_model_option_qa");
  tiny_model()->save(option_dir);
  nlohmann::json j = pathways::read_json_file(option_dir + "/config.json");
  j["qa"] = {{"scoring", "question"}, {"option_text", "option"}};
  pathways::write_text_file_atomic(option_dir + "/config.json", j.dump(2));
  test::expect_error<FormatError>([&] { LearnedModelImpl::load(option_dir); }, {"qa_head.option_proj"});
}

TEST(LearnedModel, CheckpointWithAWrongShapeNamesTheTensor) {
  auto m = tiny_model();
  const std::string dir = test::scratch_dir("learned_model_bad_shape");
  m->save(dir);
  // Rewrite the checkpoint with one tensor cut short.
  SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(dir + "/model.safetensors");
  std::vector<TensorToWrite> tensors;
  std::vector<std::vector<uint8_t>> keep;
  for (const auto& name : ckpt.names()) {
    const TensorView& v = ckpt.tensor(name);
    std::vector<int64_t> shape = v.shape;
    size_t bytes = v.bytes;
    if (name == "fusion.time_proj.weight") {
      shape[0] -= 1;
      bytes = bytes / size_t(v.shape[0]) * size_t(shape[0]);
    }
    keep.emplace_back(v.data, v.data + bytes);
    tensors.push_back({name, v.dtype, shape, keep.back().data()});
  }
  write_safetensors(dir + "/model.safetensors", tensors, {});
  try {
    LearnedModelImpl::load(dir);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("fusion.time_proj.weight"), std::string::npos) << e.what();
  }
}

TEST(LearnedModel, ConfigOfAnotherVersionIsRefused) {
  auto m = tiny_model();
  const std::string dir = test::scratch_dir("learned_model_version");
  m->save(dir);
  nlohmann::json j = m->config().to_json();
  j["version"] = 99;
  std::ofstream(dir + "/config.json") << j.dump();
  EXPECT_THROW(LearnedModelImpl::load(dir), FormatError);
}

// Note [Moment scores]: two points over four 1-s steps; the first is more confident, the
// second covers the salient steps.
TEST(DecodeMoments, TheStepsSaliencyCanOutrankAConfidentPoint) {
  GroundingOutput out;
  out.saliency = torch::tensor({{-4.f, -4.f, 4.f, 4.f}});
  out.point_seconds = {0.5, 1.5, 2.5, 3.5};
  out.point_level = {0, 0, 0, 0};
  out.logits = torch::tensor({{2.f, -9.f, 0.f, -9.f}});
  out.start_seconds = torch::tensor({{0.f, 1.f, 2.f, 3.f}});
  out.end_seconds = torch::tensor({{1.8f, 2.f, 4.f, 4.f}});
  std::vector<Moment> plain = decode_moments(out, 0, 4.0, 0.7, 1);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_DOUBLE_EQ(plain[0].start_seconds, 0.0);  // confidence alone: sigmoid(2) over sigmoid(0)
  std::vector<Moment> blended = decode_moments(out, 0, 4.0, 0.7, 1, 0.5);
  ASSERT_EQ(blended.size(), 1u);
  EXPECT_DOUBLE_EQ(blended[0].start_seconds, 2.0);
  const double s4 = 1 / (1 + std::exp(-4.0));  // both steps inside [2, 4]
  EXPECT_NEAR(blended[0].score, std::sqrt(0.5 * s4), 1e-6);
  // A moment between two steps takes the saliency of the step nearest its middle (1.5 s).
  out.start_seconds[0][1] = 1.6f;
  out.end_seconds[0][1] = 1.9f;
  bool found = false;
  for (const Moment& m : decode_moments(out, 0, 4.0, 0.7, 10, 1.0))
    if (std::abs(m.start_seconds - 1.6) < 1e-6) {
      found = true;
      EXPECT_NEAR(m.score, 1 / (1 + std::exp(4.0)), 1e-6);
    }
  EXPECT_TRUE(found);
  EXPECT_THROW(decode_moments(out, 0, 4.0, 0.7, 1, 1.5), UsageError);
}

TEST(LearnedModel, MomentSaliencyIsWrittenAndOlderConfigsKeepConfidenceAlone) {
  LearnedModelConfig c = tiny_model()->config();
  EXPECT_EQ(c.moment_saliency, 0.5);
  nlohmann::json j = c.to_json();
  EXPECT_EQ(j["inference"]["moment_saliency"], 0.5);
  j["inference"]["moment_saliency"] = 0.25;
  EXPECT_EQ(LearnedModelConfig::from_json(j, "x").moment_saliency, 0.25);
  j["inference"].erase("moment_saliency");
  EXPECT_EQ(LearnedModelConfig::from_json(j, "x").moment_saliency, 0.0);
  j["inference"]["moment_saliency"] = 2;
  EXPECT_THROW(LearnedModelConfig::from_json(j, "x"), FormatError);
}

// 30 AdamW steps on `step_loss` bring it below 70% of its first value.
template <typename StepLoss>
void expect_few_steps_lower_loss(torch::nn::Module& model, StepLoss&& step_loss) {
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(3e-3));
  const double first = step_loss().template item<double>();
  for (int i = 0; i < 30; ++i) {
    torch::Tensor loss = step_loss();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  EXPECT_LT(step_loss().template item<double>(), 0.7 * first);
}

TEST(LearnedModel, AFewStepsLowerTheLossOnOneVideo) {
  auto m = tiny_model();
  m->train();
  auto step_loss = [&] {
    VideoFeatures v = tiny_video(*m);
    std::vector<double> times;
    GroundingOutput g = m->ground(v, m->encode_text({"the red square"}), &times);
    return grounding_loss(g, {{{2.0, 3.0}}}, times).total;
  };
  expect_few_steps_lower_loss(*m, step_loss);
}

TEST(LearnedModel, DetailProbeGivesOneLogitPerTextAndDetailFrame) {
  auto m = tiny_model();
  VideoFeatures v = tiny_video(*m);
  DetailProbe probe;
  std::vector<double> times;
  m->ground(v, m->encode_text({"the red square", "what colour"}), &times, &probe);
  EXPECT_EQ(probe.logits.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(probe.seconds, v.slow_seconds);
}

// Both QA scorings (Note [Option-fused QA], Note [Question-fused QA]) learn.
class QaScoring : public ::testing::TestWithParam<std::string> {};

TEST_P(QaScoring, AFewStepsLowerTheQaLoss) {
  auto m = tiny_model("patch", GetParam());
  m->train();
  const std::vector<std::string> questions = {"what colour", "which way"};
  const std::vector<std::vector<std::string>> options = {{"red", "square", "left"}, {"left", "red"}};
  auto step_loss = [&] {
    torch::Tensor s = m->qa_scores(tiny_video(*m), questions, options);
    EXPECT_EQ(s.sizes(), (std::vector<int64_t>{5}));
    auto ce = [](const torch::Tensor& x, int64_t k) {
      return torch::nn::functional::cross_entropy(x.unsqueeze(0), torch::tensor({k}, torch::kInt64));
    };
    return ce(s.slice(0, 0, 3), 0) + ce(s.slice(0, 3, 5), 0);
  };
  expect_few_steps_lower_loss(*m, step_loss);
  EXPECT_THROW(m->qa_scores(tiny_video(*m), questions, {{"red", "left"}}), UsageError);
  EXPECT_THROW(m->qa_scores(tiny_video(*m), {"what colour"}, {{"red"}}), UsageError);
}

INSTANTIATE_TEST_SUITE_P(LearnedModel, QaScoring, ::testing::Values("option", "question"));

// Note [Grounded QA]: training scores the options it already fused as grounding texts; the
// scores must be those of qa_scores, which fuses them afresh.
TEST(LearnedModel, OptionsFusedAsGroundingTextsScoreAsQaScoresDoes) {
  auto m = tiny_model("patch", "option");
  m->eval();
  torch::NoGradGuard no_grad;
  VideoFeatures v = tiny_video(*m);
  const std::vector<std::string> options = {"red", "left", "square"};
  std::vector<std::string> texts = {"the red square"};  // a query first, as in training
  for (const auto& o : options) texts.push_back(qa_option_text("what colour", o));
  std::vector<double> times;
  torch::Tensor fused;
  GroundingOutput g = m->ground(v, m->encode_text(texts), &times, nullptr, &fused);
  ASSERT_EQ(fused.size(0), 4);
  torch::Tensor reused = m->fused_option_scores(fused.narrow(0, 1, 3), g.saliency.narrow(0, 1, 3));
  torch::Tensor fresh = m->qa_scores(v, {"what colour"}, {options});
  EXPECT_TRUE(torch::allclose(reused, fresh, 1e-5, 1e-5)) << reused << fresh;
}

TEST(LearnedModel, OptionFusedQaScoresEachOptionLikeAGroundingQuery) {
  // An option's score moves with the grounding saliency of its "question option" text.
  auto m = tiny_model();
  m->eval();
  torch::NoGradGuard no_grad;
  VideoFeatures v = tiny_video(*m);
  torch::Tensor before = m->qa_scores(v, {"what colour"}, {{"red", "left"}});
  for (auto& p : m->named_parameters())
    if (p.key() == "grounding_head.saliency.bias") p.value().add_(1.5);
  torch::Tensor after = m->qa_scores(v, {"what colour"}, {{"red", "left"}});
  EXPECT_TRUE(torch::allclose(after - before, torch::full({2}, 1.5), 1e-4, 1e-4));
}

TEST(LearnedHead, AnswersThroughTheVideoHeadInterface) {
  auto m = tiny_model();
  m->eval();
  LearnedHead head(m);
  pathways::VideoTokens tokens;
  VideoFeatures v = tiny_video(*m);
  tokens.duration_seconds = 4.0;
  tokens.slow = v.slow.detach();
  tokens.fast = v.fast.detach();
  tokens.slow_pts_seconds = v.slow_seconds;
  tokens.fast_pts_seconds = v.fast_seconds;
  GroundingResult g = head.ground(tokens, "the red square");
  EXPECT_EQ(g.saliency.size(), 2u);
  ASSERT_FALSE(g.moments.empty());
  for (const auto& mo : g.moments) {
    EXPECT_GE(mo.start_seconds, 0);
    EXPECT_LE(mo.end_seconds, 4.0);
  }
  QaResult a = head.answer(tokens, "what colour", {"red", "left", "square"});
  ASSERT_EQ(a.probabilities.size(), 3u);
  EXPECT_NEAR(a.probabilities[0] + a.probabilities[1] + a.probabilities[2], 1.0, 1e-6);
  EXPECT_THROW(head.answer(tokens, "what colour", {"red"}), UsageError);
}

TEST(LearnedModel, AFeatureModelHasNoBackboneAndRoundTrips) {
  auto m = tiny_feature_model();
  m->eval();
  EXPECT_FALSE(m->backbone());
  EXPECT_EQ(m->config().fusion.timeline_dim, 6 + 4 + 2);
  EXPECT_EQ(m->config().fusion.slow_dim, 4);
  EXPECT_EQ(m->config().fusion.text_dim, 5);
  for (const auto& p : m->named_parameters().keys())
    EXPECT_TRUE(p.rfind("fusion.", 0) == 0 || p.rfind("grounding_head.", 0) == 0) << p;
  const std::string dir = test::scratch_dir("learned_model_features");
  m->save(dir);
  EXPECT_TRUE(LearnedModelConfig::is_feature_model_dir(dir));
  EXPECT_FALSE(fs::exists(dir + "/tokenizer_words.json"));
  auto loaded = LearnedModelImpl::load(dir);
  EXPECT_EQ(loaded->config().to_json(), m->config().to_json());
  EXPECT_EQ(loaded->config().to_json()["version"], 2);
  torch::NoGradGuard no_grad;
  TextBatch text{torch::randn({1, 3, 5}), torch::ones({1, 3}, torch::kBool)};
  std::vector<double> t1, t2;
  GroundingOutput a = m->ground(tiny_feature_video(), text, &t1);
  GroundingOutput b = loaded->ground(tiny_feature_video(), text, &t2);
  EXPECT_TRUE(torch::allclose(a.logits, b.logits));
  EXPECT_EQ(t1, tiny_feature_video().fast_seconds);
  EXPECT_THROW(m->encode_text({"a query"}), UsageError);
  EXPECT_THROW(m->qa_scores(tiny_feature_video(), {"which?"}, {{"a", "b"}}), UsageError);
  EXPECT_THROW(m->bundle(dir), UsageError);
  // Through the head: per-clip saliency and moments inside the video.
  GroundingResult g = LearnedHead(loaded).ground(tiny_feature_video(), text);
  EXPECT_EQ(g.saliency.size(), 10u);
  ASSERT_FALSE(g.moments.empty());
  EXPECT_LE(g.moments[0].end_seconds, 20.0);
}

TEST(LearnedModel, AFeatureConfigWithBadInputIsRefused) {
  auto m = tiny_feature_model();
  const std::string where = "config.json";
  nlohmann::json j = m->config().to_json();
  j["input"]["source_dims"] = {6};
  test::expect_error<FormatError>([&] { LearnedModelConfig::from_json(j, where); }, {"config.json", "source_dims"});
  j = m->config().to_json();
  j["input"]["detail_source"] = "resnet";
  test::expect_error<FormatError>([&] { LearnedModelConfig::from_json(j, where); }, {"detail_source", "resnet"});
  j = m->config().to_json();
  j["pathways"] = "fast";
  test::expect_error<FormatError>([&] { LearnedModelConfig::from_json(j, where); }, {"pathways must be 'slowfast'"});
}

TEST(LearnedModel, AFewStepsLowerTheLossOnFeatureRows) {
  auto m = tiny_feature_model();
  m->train();
  TextBatch text{torch::randn({1, 3, 5}), torch::ones({1, 3}, torch::kBool)};
  auto step_loss = [&] {
    std::vector<double> times;
    GroundingOutput g = m->ground(tiny_feature_video(), text, &times);
    return grounding_loss(g, {{{8.0, 14.0}}}, times).total;
  };
  expect_few_steps_lower_loss(*m, step_loss);
}
