// CLIP preprocessing against OpenAI's _transform outputs in the clip_tiny fixture.
#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/pathways/clip_preprocess.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

torch::Tensor ref(const std::string& name) { return test::npy_tensor(test::fixture("clip_tiny/" + name + ".npy")); }

TEST(ClipPreprocessVsOpenAi, ResizeIsWithinOneLevelOfPil) {
  ClipImageProcessor p = ClipImageProcessor::from_file(test::fixture("clip_tiny/preprocessor_config.json"));
  EXPECT_EQ(p.shortest_edge, 32);
  torch::Tensor resized = p.resize(ref("images_uint8"));  // [3, 40, 48, 3] -> [3, 32, 38, 3]
  torch::Tensor expected = ref("preprocess_resized_uint8");
  ASSERT_EQ(resized.sizes(), expected.sizes());
  EXPECT_LE((resized.to(torch::kInt) - expected.to(torch::kInt)).abs().max().item<int>(), 1);
}

TEST(ClipPreprocessVsOpenAi, CenterCropOfTheReferenceResizeIsExact) {
  ClipImageProcessor p = ClipImageProcessor::for_size(32);
  torch::Tensor cropped = p.center_crop(ref("preprocess_resized_uint8"));  // left = round(6 / 2) = 3
  EXPECT_TRUE(torch::equal(cropped, ref("preprocess_cropped_uint8")));
}

TEST(ClipPreprocessVsOpenAi, NormalizeIsBitExact) {
  ClipImageProcessor p = ClipImageProcessor::for_size(32);
  EXPECT_TRUE(torch::equal(p.normalize(ref("preprocess_cropped_uint8")), ref("pixel_values")));
}

TEST(ClipPreprocessVsOpenAi, FullPipelineWithinOneLevel) {
  ClipImageProcessor p = ClipImageProcessor::for_size(32);
  test::expect_close(p(ref("images_uint8")), ref("pixel_values"), 0.016, 0, "pixel_values", 1e-3);
}

TEST(ClipPreprocess, RoundsCropOffsetsHalfToEven) {
  ClipImageProcessor p = ClipImageProcessor::for_size(4);
  torch::Tensor x = torch::arange(7, torch::kUInt8).view({1, 1, 7, 1}).expand({1, 4, 7, 3}).contiguous();
  // (7 - 4) / 2 = 1.5 -> 2 (Python's round), so columns 2..5.
  EXPECT_EQ(p.center_crop(x)[0][0][0][0].item<int>(), 2);
}

TEST(ClipPreprocess, SmallFramesArePaddedAndPortraitKeepsAspect) {
  ClipImageProcessor p = ClipImageProcessor::for_size(8);
  torch::Tensor tiny = torch::full({1, 4, 4, 3}, 200, torch::kUInt8);
  torch::Tensor c = p.center_crop(tiny);
  EXPECT_EQ(c.sizes(), (std::vector<int64_t>{1, 8, 8, 3}));
  EXPECT_EQ(c[0][0][0][0].item<int>(), 0);
  EXPECT_EQ(c[0][4][4][0].item<int>(), 200);
  torch::Tensor portrait = torch::zeros({2, 30, 20, 3}, torch::kUInt8);
  EXPECT_EQ(p.resize(portrait).sizes(), (std::vector<int64_t>{2, 12, 8, 3}));
  EXPECT_THROW(p.resize(torch::zeros({2, 3, 8, 8})), UsageError);
}

}  // namespace
}  // namespace sfvu::pathways
