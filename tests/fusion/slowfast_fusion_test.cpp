// The fusion layer: shapes, the gated slow-detail path starting closed, and time-stamped
// detail (a step reads only its nearest slow frame).
#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/fusion/slowfast_fusion.h"
#include "sfvu/fusion/word_tokenizer.h"

using namespace sfvu;
using namespace sfvu::fusion;

namespace {

FusionConfig small_config() {
  FusionConfig c;
  c.timeline_dim = 12;
  c.slow_dim = 6;
  c.text_dim = 5;
  c.d_model = 16;
  c.num_heads = 2;
  return c;
}

FusionInput input(int64_t T, int64_t Ts, int64_t B, int64_t L) {
  FusionInput in;
  in.timeline = torch::randn({T, 12});
  in.timeline_seconds = torch::arange(T, torch::kFloat64) * 0.125;
  in.slow = torch::randn({Ts, 9, 6});
  in.slow_seconds = torch::arange(Ts, torch::kFloat64);
  in.text = torch::randn({B, L, 5});
  in.text_mask = torch::ones({B, L}, torch::kBool);
  return in;
}

}  // namespace

TEST(SlowFastFusion, OneFusedStepPerTimelineStepPerText) {
  torch::manual_seed(0);
  SlowFastFusion f(small_config());
  torch::Tensor out = f->forward(input(24, 3, 2, 4));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 24, 16}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_DOUBLE_EQ(f->detail_gate(), 0.0);
}

TEST(SlowFastFusion, ClosedGateIgnoresSlowTokensOpenGateDoesNot) {
  torch::manual_seed(1);
  SlowFastFusion f(small_config());
  f->eval();
  FusionInput a = input(16, 2, 1, 3), b = a;
  b.slow = torch::randn_like(a.slow);
  EXPECT_TRUE(torch::allclose(f->forward(a), f->forward(b)));  // tanh(0) = 0: detail = text
  for (auto& p : f->named_parameters())
    if (p.key() == "detail.gate") p.value().data().fill_(1.0);
  EXPECT_FALSE(torch::allclose(f->forward(a), f->forward(b)));
}

TEST(SlowFastFusion, StepsReadOnlyTheirNearestSlowFrame) {
  torch::manual_seed(2);
  SlowFastFusion f(small_config());
  f->eval();
  for (auto& p : f->named_parameters())
    if (p.key() == "detail.gate") p.value().data().fill_(1.0);
  auto c = small_config();
  c.temporal_layers = 0;  // no mixing along time before or after the text enters
  c.post_layers = 0;
  SlowFastFusion g(c);
  g->eval();
  for (auto& p : g->named_parameters())
    if (p.key() == "detail.gate") p.value().data().fill_(1.0);
  FusionInput a = input(16, 2, 1, 3), b = a;  // steps at t <= 0.5 s read slow frame 0, later ones frame 1
  b.slow = a.slow.clone();
  b.slow[1] = torch::randn({9, 6});
  torch::Tensor ya = g->forward(a), yb = g->forward(b);
  EXPECT_TRUE(torch::allclose(ya.slice(1, 0, 4), yb.slice(1, 0, 4)));
  EXPECT_FALSE(torch::allclose(ya.slice(1, 12, 16), yb.slice(1, 12, 16)));
}

TEST(SlowFastFusion, NearestIndices) {
  torch::Tensor t = torch::tensor({0.0, 0.4, 0.6, 1.9, 5.0}, torch::kFloat64);
  torch::Tensor s = torch::tensor({0.0, 1.0, 2.0}, torch::kFloat64);
  torch::Tensor n = nearest_indices(t, s);
  EXPECT_EQ(std::vector<int64_t>(n.data_ptr<int64_t>(), n.data_ptr<int64_t>() + 5),
            (std::vector<int64_t>{0, 0, 1, 2, 2}));
}

TEST(SlowFastFusion, WrongInputWidthIsAUsageError) {
  SlowFastFusion f(small_config());
  FusionInput in = input(8, 2, 1, 3);
  in.slow = torch::randn({2, 9, 7});
  EXPECT_THROW(f->forward(in), UsageError);
}

TEST(TemporalConvBlock, MixesOnlyStepsWithinHalfTheKernel) {
  torch::manual_seed(3);
  TemporalConvBlock block(16, 5);
  torch::Tensor a = torch::randn({2, 20, 16}), b = a.clone();
  b[0][10] = torch::randn({16});
  torch::Tensor ya = block->forward(a), yb = block->forward(b);
  EXPECT_EQ(ya.sizes(), a.sizes());
  for (int64_t t = 0; t < 20; ++t) {
    const bool reached = t >= 8 && t <= 12;
    EXPECT_EQ(torch::allclose(ya[0][t], yb[0][t]), !reached) << "step " << t;
  }
  EXPECT_TRUE(torch::allclose(ya[1], yb[1]));  // rows do not mix
}

// Note [Motion match] in learned_model.cpp: the match's steps around each step.
TEST(FusionConfig, MotionMatchStepsKeyIsOptionalOddAndRoundTrips) {
  FusionConfig c = small_config();
  EXPECT_EQ(c.motion_match_steps, 1);
  c.motion_match_steps = 17;
  EXPECT_EQ(FusionConfig::from_json(c.to_json(), "x").motion_match_steps, 17);
  nlohmann::json old = c.to_json();
  old.erase("motion_match_steps");
  EXPECT_EQ(FusionConfig::from_json(old, "x").motion_match_steps, 1);  // written before it existed
  for (int bad : {0, 4, -3}) {
    nlohmann::json j = c.to_json();
    j["motion_match_steps"] = bad;
    EXPECT_THROW(FusionConfig::from_json(j, "x"), FormatError) << bad;
  }
}

TEST(FusionConfig, TemporalConvolutionKeyIsOptionalOddAndRoundTrips) {
  FusionConfig c = small_config();
  EXPECT_EQ(c.conv_kernel, 9);
  EXPECT_EQ(FusionConfig::from_json(c.to_json(), "x").conv_kernel, 9);
  nlohmann::json old = c.to_json();
  old.erase("conv_kernel");
  EXPECT_EQ(FusionConfig::from_json(old, "x").conv_kernel, 0);  // written before it existed
  nlohmann::json even = c.to_json();
  even["conv_kernel"] = 4;
  EXPECT_THROW(FusionConfig::from_json(even, "x"), FormatError);
  c.conv_kernel = 0;
  SlowFastFusion f(c);  // the older shape still builds and runs
  EXPECT_EQ(f->forward(input(8, 2, 1, 3)).sizes(), (std::vector<int64_t>{1, 8, 16}));
}

TEST(SlowFastFusion, DetailProbeTrainsTheSlowAttentionWhileTheGateIsClosed) {
  // Note [Detail probe]: with the gate at 0 the fused output carries no gradient to the
  // text->slow attention; the probe's logits do.
  torch::manual_seed(4);
  FusionConfig c = small_config();
  c.detail_probe = true;
  SlowFastFusion f(c);
  FusionInput in = input(16, 3, 2, 4);
  in.text_mask[1][3] = false;
  torch::Tensor logits;
  torch::Tensor out = f->forward(in, &logits);
  ASSERT_TRUE(logits.defined());
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 3}));
  auto attention_grad = [&] {
    double sum = 0;
    for (auto& p : f->named_parameters())
      if (p.key().rfind("detail.cross_attn.", 0) == 0 && p.value().grad().defined())
        sum += p.value().grad().abs().sum().item<double>();
    return sum;
  };
  out.sum().backward({}, /*retain_graph=*/true);
  EXPECT_EQ(attention_grad(), 0.0);
  logits.sum().backward();
  EXPECT_GT(attention_grad(), 0.0);
  // A padded token does not count: changing the text under it leaves row 1's logits alone.
  torch::NoGradGuard no_grad;
  FusionInput b = in;
  b.text = in.text.clone();
  b.text[1][3] = torch::randn({5});
  torch::Tensor again;
  f->forward(b, &again);
  EXPECT_TRUE(torch::allclose(again[1], logits[1].detach(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(again[0], logits[0].detach(), 1e-5, 1e-6));
}

TEST(FusionConfig, DetailProbeKeyIsOptionalAndRoundTrips) {
  FusionConfig c = small_config();
  EXPECT_FALSE(c.detail_probe);
  c.detail_probe = true;
  EXPECT_TRUE(FusionConfig::from_json(c.to_json(), "x").detail_probe);
  nlohmann::json old = c.to_json();
  old.erase("detail_probe");
  FusionConfig before = FusionConfig::from_json(old, "x");  // written before the probe
  EXPECT_FALSE(before.detail_probe);
  SlowFastFusion f(before);
  for (auto& p : f->named_parameters()) EXPECT_EQ(p.key().rfind("detail_probe", 0), std::string::npos) << p.key();
  torch::Tensor logits;
  EXPECT_EQ(f->forward(input(8, 2, 1, 3), &logits).sizes(), (std::vector<int64_t>{1, 8, 16}));
  EXPECT_FALSE(logits.defined());
}

TEST(WordTokenizer, SortedVocabularyWithSpecialIds) {
  WordTokenizer t = WordTokenizer::from_texts({"The red square moves LEFT.", "the blue circle"});
  EXPECT_EQ(t.words(), (std::vector<std::string>{"blue", "circle", "left", "moves", "red", "square", "the"}));
  EXPECT_EQ(t.eot_id(), 10);
  EXPECT_EQ(t.encode("the purple square", 32), (std::vector<int64_t>{2, 9, 1, 8, 10}));
  EXPECT_EQ(t.encode("the red square moves left", 4), (std::vector<int64_t>{2, 9, 7, 10}));
}
