// SigLIP's vision tower against transformers v4.45.1's hidden states for the random-weight
// onevision_qwen2 fixture (tests/fixtures/llava_tiny/README.md): fp32 at atol 1e-4; the config
// reader's defaults and errors.
#include "sfvu/pathways/siglip_vision.h"

#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/pathways/checkpoint_io.h"
#include "sfvu/pathways/json_fields.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

std::string ov_dir() { return test::fixture("llava_tiny/onevision_qwen2"); }
torch::Tensor ref(const std::string& name) { return test::npy_tensor(ov_dir() + "/reference/" + name + ".npy"); }

SiglipVisionConfig fixture_config() {
  return SiglipVisionConfig::from_json(read_json_file(ov_dir() + "/config.json").at("vision_config"), "config.json");
}

// The fixture's tower (the LLaVA checkpoint's "vision_tower.vision_model.*"), `layers` deep.
SiglipVisionTransformer load_tower(int layers) {
  SiglipVisionConfig c = fixture_config();
  c.num_hidden_layers = layers;
  SiglipVisionTransformer tower(c);
  LoadOptions options;
  options.checkpoint_key = [](const std::string& name) { return "vision_tower.vision_model." + name; };
  options.report_unexpected = false;  // the rest of the LLaVA checkpoint
  load_checkpoint(*tower, SafetensorsCheckpoint::open(ov_dir()), options);
  tower->eval();
  return tower;
}

TEST(SiglipVisionConfig, DefaultsAreTransformers) {
  SiglipVisionConfig c = SiglipVisionConfig::from_json(nlohmann::json::object(), "cfg");
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.image_size, 224);
  EXPECT_EQ(c.patch_size, 16);
  EXPECT_EQ(c.hidden_act, Activation::kGeluTanh);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-6);
  EXPECT_TRUE(c.vision_use_head);
}

TEST(SiglipVisionConfig, FixtureDiffOverlaysDefaults) {
  SiglipVisionConfig c = fixture_config();  // the config.json lists 7 keys (README: a diff)
  EXPECT_EQ(c.hidden_size, 48);
  EXPECT_EQ(c.intermediate_size, 96);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.image_size, 28);
  EXPECT_EQ(c.patch_size, 4);
  EXPECT_FALSE(c.vision_use_head);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-6);  // from the defaults, as config_resolved.json says
  EXPECT_EQ(c.grid(), 7);
}

TEST(SiglipVisionConfig, So400mGridIsFloorOf384Over14) {
  SiglipVisionConfig c = SiglipVisionConfig::so400m_patch14_384();
  EXPECT_EQ(c.grid(), 27);  // 384 is not a multiple of 14: the valid conv gives 27
  EXPECT_EQ(c.num_hidden_layers, 26);
  SiglipVisionConfig tiny = c;
  tiny.hidden_size = 16;
  tiny.num_attention_heads = 2;
  tiny.intermediate_size = 8;
  tiny.num_hidden_layers = 0;
  torch::NoGradGuard no_grad;
  SiglipVisionTransformer tower(tiny);
  EXPECT_EQ(tower->forward(torch::zeros({1, 3, 384, 384})).sizes(), (std::vector<int64_t>{1, 729, 16}));
}

TEST(SiglipVisionConfig, ErrorsNameTheKey) {
  test::expect_error<FormatError>(
      [] {
        SiglipVisionConfig::from_json(nlohmann::json{{"num_hidden_layers", "two"}}, "x/config.json vision_config");
      },
      {"x/config.json", "num_hidden_layers"});
  test::expect_error<FormatError>(
      [] {
        SiglipVisionConfig::from_json(nlohmann::json{{"hidden_size", 50}, {"num_attention_heads", 4}}, "cfg");
      },
      {"cfg", "hidden_size"});
  test::expect_error<FormatError>(
      [] {
        SiglipVisionConfig::from_json(nlohmann::json{{"model_type", "clip_vision_model"}}, "cfg");
      },
      {"cfg", "clip_vision_model"});
}

TEST(SiglipVisionVsTransformers, HiddenStatesOfEveryLayer) {
  torch::NoGradGuard no_grad;
  SiglipVisionTransformer tower = load_tower(2);
  torch::Tensor pixels = ref("input_video_pixel_values")[0];  // [3 frames, 3, 28, 28]
  std::vector<torch::Tensor> hidden;
  torch::Tensor last = tower->forward(pixels, &hidden);
  torch::Tensor expected = ref("video/vision_hidden_states");  // [frames, 3 hidden states, 49, 48]
  ASSERT_EQ(hidden.size(), 3u);
  for (int64_t i = 0; i < 3; ++i)
    test::expect_close(hidden[size_t(i)], expected.select(1, i), 1e-4, 1e-4, "hidden state " + std::to_string(i));
  test::expect_close(last, ref("video/video_features_selected"), 1e-4, 1e-4, "last layer (before post_layernorm)");
}

TEST(SiglipVisionVsTransformers, CutTowerRunsOnlyTheLayersAskedFor) {
  torch::NoGradGuard no_grad;
  SiglipVisionTransformer tower = load_tower(1);
  int64_t layers = 0;
  for (const auto& p : tower->named_parameters())
    if (p.key().find("encoder.layers.1.") != std::string::npos) ++layers;
  EXPECT_EQ(layers, 0);
  torch::Tensor pixels = ref("input_video_pixel_values")[0];
  test::expect_close(tower->forward(pixels), ref("video/vision_hidden_states").select(1, 1), 1e-4, 1e-4, "layer 1");
}

TEST(SiglipVision, WrongPixelSizeIsAUsageError) {
  torch::NoGradGuard no_grad;
  SiglipVisionTransformer tower(fixture_config());
  EXPECT_THROW(tower->forward(torch::zeros({1, 3, 32, 32})), UsageError);
}

}  // namespace
}  // namespace sfvu::pathways
