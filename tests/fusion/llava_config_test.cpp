// LlavaConfig: the fixtures' config.json resolve to what transformers v4.45.1 resolved
// (reference/config_resolved.json), the per-model_type defaults of an empty config, and errors
// that name the file and key.
#include "sfvu/fusion/llava_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"
#include "support/test_support.h"

namespace sfvu::fusion {
namespace {

using nlohmann::json;

std::string model_dir(const std::string& name) { return test::fixture("llava_tiny/" + name); }

// Every field we resolve against transformers' own resolution of the same file.
void expect_resolved_like_transformers(const std::string& name) {
  SCOPED_TRACE(name);
  LlavaConfig c = LlavaConfig::from_file(model_dir(name) + "/config.json");
  json r = pathways::read_json_file(model_dir(name) + "/reference/config_resolved.json");
  EXPECT_EQ(c.model_type, r["model_type"].get<std::string>());
  EXPECT_EQ(c.image_token_index, r["image_token_index"].get<int64_t>());
  if (r.contains("video_token_index")) {
    EXPECT_EQ(c.video_token_index, r["video_token_index"].get<int64_t>());
  }
  EXPECT_EQ(c.projector_hidden_act, r["projector_hidden_act"].get<std::string>());
  EXPECT_EQ(c.vision_feature_layer, r["vision_feature_layer"].get<int>());
  EXPECT_EQ(c.vision_feature_select_strategy, r["vision_feature_select_strategy"].get<std::string>());
  EXPECT_EQ(c.tie_word_embeddings, r["tie_word_embeddings"].get<bool>());
  if (r.contains("image_grid_pinpoints")) {
    auto pins = r["image_grid_pinpoints"].get<std::vector<std::vector<int64_t>>>();
    ASSERT_EQ(c.image_grid_pinpoints.size(), pins.size());
    for (size_t i = 0; i < pins.size(); ++i)
      EXPECT_EQ(c.image_grid_pinpoints[i], std::make_pair(pins[i][0], pins[i][1]));
  }
  if (r.contains("vision_aspect_ratio")) {
    EXPECT_EQ(c.vision_aspect_ratio, r["vision_aspect_ratio"].get<std::string>());
  }

  const json& v = r["vision_config"];
  const std::string vt = v["model_type"].get<std::string>();
  EXPECT_EQ(c.vision_kind,
            vt == "siglip_vision_model" ? LlavaConfig::VisionKind::kSiglip : LlavaConfig::VisionKind::kClip);
  const pathways::EncoderShape& shape = c.vision_kind == LlavaConfig::VisionKind::kClip
                                            ? static_cast<const pathways::EncoderShape&>(c.clip_vision)
                                            : static_cast<const pathways::EncoderShape&>(c.siglip_vision);
  EXPECT_EQ(c.vision_hidden_size(), v["hidden_size"].get<int>());
  EXPECT_EQ(shape.intermediate_size, v["intermediate_size"].get<int>());
  EXPECT_EQ(c.vision_num_layers(), v["num_hidden_layers"].get<int>());
  EXPECT_EQ(shape.num_attention_heads, v["num_attention_heads"].get<int>());
  EXPECT_EQ(shape.hidden_act, pathways::parse_activation(v["hidden_act"].get<std::string>(), "ref"));
  EXPECT_DOUBLE_EQ(shape.layer_norm_eps, v["layer_norm_eps"].get<double>());
  EXPECT_EQ(c.vision_image_size(), v["image_size"].get<int>());
  EXPECT_EQ(c.vision_patch_size(), v["patch_size"].get<int>());

  const json& t = r["text_config"];
  EXPECT_EQ(c.text.model_type, t["model_type"].get<std::string>());
  EXPECT_EQ(c.text.hidden_size, t["hidden_size"].get<int>());
  EXPECT_EQ(c.text.num_hidden_layers, t["num_hidden_layers"].get<int>());
  EXPECT_EQ(c.text.num_attention_heads, t["num_attention_heads"].get<int>());
  EXPECT_EQ(c.text.num_key_value_heads, t["num_key_value_heads"].get<int>());
  EXPECT_EQ(c.text.vocab_size, t["vocab_size"].get<int64_t>());
  EXPECT_DOUBLE_EQ(c.text.rope_theta, t["rope_theta"].get<double>());
  EXPECT_DOUBLE_EQ(c.text.rms_norm_eps, t["rms_norm_eps"].get<double>());
  EXPECT_EQ(c.text.tie_word_embeddings, t["tie_word_embeddings"].get<bool>());
}

TEST(LlavaConfigVsTransformers, Llava15LlamaFullConfig) { expect_resolved_like_transformers("llava15_llama"); }
TEST(LlavaConfigVsTransformers, OnevisionQwen2DiffConfig) { expect_resolved_like_transformers("onevision_qwen2"); }

TEST(LlavaConfig, FixtureDerivedShapes) {
  LlavaConfig llava = LlavaConfig::from_file(model_dir("llava15_llama") + "/config.json");
  EXPECT_EQ(llava.vision_grid(), 6);
  EXPECT_EQ(llava.vision_layers_needed(), 2);  // -2 of 3 layers: hidden_states[2]
  EXPECT_EQ(llava.tokens_per_crop(), 36);      // CLS dropped
  EXPECT_FALSE(llava.has_image_newline());
  EXPECT_FALSE(llava.is_anyres());
  LlavaConfig ov = LlavaConfig::from_file(model_dir("onevision_qwen2") + "/config.json");
  EXPECT_EQ(ov.vision_grid(), 7);
  EXPECT_EQ(ov.vision_layers_needed(), 2);
  EXPECT_EQ(ov.tokens_per_crop(), 49);
  EXPECT_EQ(ov.anyres_max_patches(), 9);
  EXPECT_TRUE(ov.has_image_newline());
}

TEST(LlavaConfig, EmptyLlavaMeansClipL14At336AndLlama) {
  LlavaConfig c = LlavaConfig::from_json(json{{"model_type", "llava"}}, "cfg");
  EXPECT_EQ(c.vision_kind, LlavaConfig::VisionKind::kClip);
  EXPECT_EQ(c.clip_vision.hidden_size, 1024);
  EXPECT_EQ(c.clip_vision.num_hidden_layers, 24);
  EXPECT_EQ(c.clip_vision.num_attention_heads, 16);
  EXPECT_EQ(c.clip_vision.intermediate_size, 4096);
  EXPECT_EQ(c.clip_vision.image_size, 336);
  EXPECT_EQ(c.clip_vision.patch_size, 14);
  EXPECT_EQ(c.clip_vision.hidden_act, pathways::Activation::kQuickGelu);
  EXPECT_EQ(c.image_token_index, 32000);
  EXPECT_EQ(c.video_token_index, -1);
  EXPECT_EQ(c.projector_hidden_act, "gelu");
  EXPECT_EQ(c.vision_feature_layer, -2);
  EXPECT_EQ(c.vision_feature_select_strategy, "default");
  EXPECT_EQ(c.vision_layers_needed(), 23);
  EXPECT_EQ(c.tokens_per_crop(), 576);
  EXPECT_TRUE(c.image_grid_pinpoints.empty());
  EXPECT_EQ(c.text.model_type, "llama");
  EXPECT_EQ(c.text.hidden_size, 4096);
}

TEST(LlavaConfig, EmptyLlavaNextHasItsPinpoints) {
  LlavaConfig c = LlavaConfig::from_json(json{{"model_type", "llava_next"}}, "cfg");
  const std::vector<std::pair<int64_t, int64_t>> pins = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
  EXPECT_EQ(c.image_grid_pinpoints, pins);
  EXPECT_TRUE(c.is_anyres());
  EXPECT_TRUE(c.has_image_newline());
  EXPECT_EQ(c.anyres_max_patches(), 0);
  EXPECT_EQ(c.vision_feature_layer, -2);
}

TEST(LlavaConfig, EmptyOnevisionMeansSo400mAndQwen2) {
  LlavaConfig c = LlavaConfig::from_json(json{{"model_type", "llava_onevision"}}, "cfg");
  EXPECT_EQ(c.vision_kind, LlavaConfig::VisionKind::kSiglip);
  EXPECT_EQ(c.siglip_vision.hidden_size, 1152);
  EXPECT_EQ(c.siglip_vision.num_hidden_layers, 26);
  EXPECT_EQ(c.siglip_vision.num_attention_heads, 16);
  EXPECT_EQ(c.siglip_vision.intermediate_size, 4304);
  EXPECT_EQ(c.siglip_vision.image_size, 384);
  EXPECT_EQ(c.siglip_vision.patch_size, 14);
  EXPECT_EQ(c.vision_grid(), 27);
  EXPECT_EQ(c.tokens_per_crop(), 729);
  EXPECT_EQ(c.image_token_index, 151646);
  EXPECT_EQ(c.video_token_index, 151647);
  EXPECT_EQ(c.vision_feature_layer, -1);
  EXPECT_EQ(c.vision_layers_needed(), 26);
  EXPECT_EQ(c.vision_feature_select_strategy, "full");
  EXPECT_EQ(c.vision_aspect_ratio, "anyres_max_9");
  EXPECT_TRUE(c.use_image_newline_parameter);
  ASSERT_EQ(c.image_grid_pinpoints.size(), 36u);
  EXPECT_EQ(c.image_grid_pinpoints.front(), std::make_pair(int64_t(384), int64_t(384)));
  EXPECT_EQ(c.image_grid_pinpoints[1], std::make_pair(int64_t(384), int64_t(768)));
  EXPECT_EQ(c.image_grid_pinpoints.back(), std::make_pair(int64_t(2304), int64_t(2304)));
  EXPECT_EQ(c.text.model_type, "qwen2");
}

TEST(LlavaConfig, SubConfigsWithoutModelTypeTakeTheModelsTower) {
  // OneVision's vision_config defaults to SigLIP: missing keys are SiglipVisionConfig's.
  LlavaConfig c = LlavaConfig::from_json(
      json{{"model_type", "llava_onevision"}, {"vision_config", {{"hidden_size", 48}, {"num_attention_heads", 4}}}},
      "cfg");
  EXPECT_EQ(c.vision_kind, LlavaConfig::VisionKind::kSiglip);
  EXPECT_EQ(c.siglip_vision.num_hidden_layers, 12);
  EXPECT_EQ(c.siglip_vision.image_size, 224);
  EXPECT_EQ(c.siglip_vision.patch_size, 16);
  // llava's defaults to CLIP: CLIPVisionConfig's class defaults, not the L/14-336 tower.
  LlavaConfig l = LlavaConfig::from_json(
      json{{"model_type", "llava"}, {"vision_config", {{"hidden_size", 48}, {"num_attention_heads", 4}}}}, "cfg");
  EXPECT_EQ(l.vision_kind, LlavaConfig::VisionKind::kClip);
  EXPECT_EQ(l.clip_vision.patch_size, 32);
  EXPECT_EQ(l.clip_vision.image_size, 224);
  EXPECT_EQ(l.text.model_type, "llama");
}

TEST(LlavaConfig, NewerIdSpellingsAreAccepted) {
  LlavaConfig c = LlavaConfig::from_json(
      json{{"model_type", "llava_onevision"}, {"image_token_id", 7}, {"video_token_id", 8}}, "cfg");
  EXPECT_EQ(c.image_token_index, 7);
  EXPECT_EQ(c.video_token_index, 8);
}

TEST(LlavaConfig, BadKeyTypeNamesTheFileAndKey) {
  const std::string dir = test::scratch_dir("llava_config_bad");
  const std::string path = dir + "/config.json";
  json j = pathways::read_json_file(model_dir("onevision_qwen2") + "/config.json");
  j["image_token_index"] = "five hundred";
  std::ofstream(path) << j.dump();
  test::expect_error<FormatError>([&] { LlavaConfig::from_file(path); }, {path, "image_token_index"});

  j = pathways::read_json_file(model_dir("onevision_qwen2") + "/config.json");
  j["vision_config"]["num_hidden_layers"] = "two";
  std::ofstream(path) << j.dump();
  test::expect_error<FormatError>([&] { LlavaConfig::from_file(path); }, {path, "num_hidden_layers"});

  j = pathways::read_json_file(model_dir("llava15_llama") + "/config.json");
  j["vision_config"]["patch_size"] = json::array({4});
  std::ofstream(path) << j.dump();
  test::expect_error<FormatError>([&] { LlavaConfig::from_file(path); }, {path, "patch_size"});
}

TEST(LlavaConfig, ImpossibleValuesAreFormatErrors) {
  test::expect_error<FormatError>(
      [] {
        LlavaConfig::from_json(json{{"model_type", "llava_next_video"}}, "cfg");
      },
      {"cfg", "llava_next_video"});
  test::expect_error<FormatError>([] { LlavaConfig::from_json(json::object(), "cfg"); }, {"cfg", "model_type"});
  test::expect_error<FormatError>(
      [] {
        LlavaConfig::from_json(json{{"model_type", "llava"}, {"vision_feature_layer", -26}}, "cfg");
      },
      {"cfg", "vision_feature_layer"});
  test::expect_error<FormatError>(
      [] {
        LlavaConfig::from_json(json{{"model_type", "llava"}, {"vision_feature_select_strategy", "cls"}}, "cfg");
      },
      {"cfg", "vision_feature_select_strategy"});
  test::expect_error<FormatError>(
      [] {
        LlavaConfig::from_json(json{{"model_type", "llava"}, {"projector_hidden_act", "swish"}}, "cfg");
      },
      {"cfg", "swish"});
  test::expect_error<FormatError>(
      [] {
        LlavaConfig::from_json(json::parse(R"({"model_type": "llava_next", "image_grid_pinpoints": [[336]]})"), "cfg");
      },
      {"cfg", "image_grid_pinpoints"});
  test::expect_error<IoError>([] { LlavaConfig::from_file("/nonexistent/config.json"); }, {"/nonexistent/config.json"});
}

TEST(LlavaConfig, OnevisionHalfBillionShapes) {
  LlavaConfig c = LlavaConfig::onevision_0_5b();
  EXPECT_EQ(c.model_type, "llava_onevision");
  EXPECT_EQ(c.vision_hidden_size(), 1152);
  EXPECT_EQ(c.text.hidden_size, 896);
  EXPECT_TRUE(c.text.tie_word_embeddings);
}

}  // namespace
}  // namespace sfvu::fusion
