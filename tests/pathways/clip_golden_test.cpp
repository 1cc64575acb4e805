// Our CLIP against OpenAI's reference outputs for the random-weight clip_tiny fixture
// (tests/fixtures/clip_tiny/README.md): every hidden state, pooled outputs, embeddings,
// logits; fp32 at atol/rtol 1e-4 (logits 2e-4), bf16 by cosine >= 0.999.
#include <gtest/gtest.h>

#include "sfvu/pathways/clip_model.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

std::string clip_dir() { return test::fixture("clip_tiny"); }
torch::Tensor ref(const std::string& name) { return test::npy_tensor(clip_dir() + "/" + name + ".npy"); }

class ClipVsOpenAiReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new ClipModel(ClipModelImpl::from_pretrained(clip_dir())); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  ClipModel& clip() { return *model_; }
  torch::NoGradGuard no_grad_;
  static ClipModel* model_;
};
ClipModel* ClipVsOpenAiReference::model_ = nullptr;

TEST_F(ClipVsOpenAiReference, LoadsEveryPartOfTheCheckpoint) {
  EXPECT_TRUE(clip()->parts().text);
  EXPECT_TRUE(clip()->parts().visual_projection);
  EXPECT_TRUE(clip()->parts().text_projection);
  EXPECT_EQ(clip()->config().vision.num_attention_heads, 4);
  EXPECT_EQ(clip()->config().text.hidden_size, 48);
  int64_t n = 0;
  for (const auto& p : clip()->parameters()) n += p.numel();
  EXPECT_EQ(n, 2599153);  // the fixture README's parameter count
}

TEST_F(ClipVsOpenAiReference, VisionHiddenStatesPooledAndEmbeds) {
  VisionOutput v = clip()->vision(ref("pixel_values"), true);
  torch::Tensor hs = ref("vision_hidden_states");  // [4, 3, 17, 64]
  ASSERT_EQ(v.hidden_states.size(), 4u);
  for (int i = 0; i < 4; ++i)
    test::expect_close(v.hidden_states[size_t(i)], hs[i], 1e-4, 1e-4, "vision hidden state " + std::to_string(i));
  test::expect_close(v.pooled, ref("vision_pooled"), 1e-4, 1e-4, "vision pooled");
  test::expect_close(v.embeds, ref("image_embeds"), 1e-4, 1e-4, "image embeds");
  EXPECT_EQ(v.patch_grid.sizes(), (std::vector<int64_t>{3, 4, 4, 64}));
  test::expect_close(v.patch_grid.reshape({3, 16, 64}), hs[3].slice(1, 1), 1e-4, 1e-4, "patch grid");
}

TEST_F(ClipVsOpenAiReference, TextHiddenStatesPooledAndEmbeds) {
  torch::Tensor ids = ref("text_input_ids");  // [4, 77] int64
  TextOutput t = clip()->text(ids, true);
  torch::Tensor hs = ref("text_hidden_states");  // [3, 4, 77, 48]
  ASSERT_EQ(t.hidden_states.size(), 3u);
  for (int i = 0; i < 3; ++i)
    test::expect_close(t.hidden_states[size_t(i)], hs[i], 1e-4, 1e-4, "text hidden state " + std::to_string(i));
  test::expect_close(t.last_hidden_state, ref("text_last_hidden_state"), 1e-4, 1e-4, "text last hidden state");
  test::expect_close(t.pooled, ref("text_pooled"), 1e-4, 1e-4, "text pooled");
  test::expect_close(t.embeds, ref("text_embeds"), 1e-4, 1e-4, "text embeds");
  EXPECT_TRUE(torch::equal(t.eot_index, ids.argmax(-1)));
}

TEST_F(ClipVsOpenAiReference, LogitsPerImage) {
  torch::Tensor img = clip()->vision(ref("pixel_values")).embeds;
  torch::Tensor txt = clip()->text(ref("text_input_ids")).embeds;
  test::expect_close(clip()->logits_per_image(img, txt), ref("logits_per_image"), 2e-4, 1e-4, "logits per image");
}

TEST_F(ClipVsOpenAiReference, Float64RunAgreesToo) {
  // The reference's float64 run of the same weights: our fp32 is within fp32 round-off of it.
  test::expect_close(clip()->vision(ref("pixel_values")).embeds, ref("image_embeds_f64"), 1e-4, 1e-4, "vs f64");
}

TEST(ClipBf16, CosineToFp32AtLeast0999) {
  torch::NoGradGuard no_grad;
  auto fp32 = ClipModelImpl::from_pretrained(clip_dir());
  auto bf16 = ClipModelImpl::from_pretrained(clip_dir(), torch::kBFloat16);
  EXPECT_EQ(bf16->dtype(), torch::kBFloat16);
  torch::Tensor px = ref("pixel_values"), ids = ref("text_input_ids");
  EXPECT_GE(test::min_cosine(bf16->vision(px).embeds, fp32->vision(px).embeds), 0.999);
  EXPECT_GE(test::min_cosine(bf16->text(ids).embeds, fp32->text(ids).embeds), 0.999);
  // And against the reference itself.
  EXPECT_GE(test::min_cosine(bf16->vision(px).embeds, ref("image_embeds")), 0.999);
}

TEST(ClipPositionInterpolation, OtherInputSizesRunWithInterpolatedPositions) {
  torch::NoGradGuard no_grad;
  auto clip = ClipModelImpl::from_pretrained(clip_dir());
  torch::Tensor px = ref("pixel_values");
  // 48x48 input: a 6x6 grid, positions resized bicubically from 4x4.
  torch::Tensor big = torch::nn::functional::interpolate(
      px, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{48, 48}).mode(torch::kBilinear)
              .align_corners(false));
  VisionOutput v = clip->vision(big);
  EXPECT_EQ(v.grid_h, 6);
  EXPECT_EQ(v.last_hidden_state.sizes(), (std::vector<int64_t>{3, 37, 64}));
  EXPECT_TRUE(torch::isfinite(v.embeds).all().item<bool>());
  // Non-square (16x32 -> 2x4 grid) works too, and the native size needs no interpolation.
  EXPECT_EQ(clip->vision(px.slice(2, 0, 16)).patch_grid.sizes(), (std::vector<int64_t>{3, 2, 4, 64}));
  test::expect_close(clip->vision(px).embeds, ref("image_embeds"), 1e-4, 1e-4, "native size");
}

}  // namespace
}  // namespace sfvu::pathways
