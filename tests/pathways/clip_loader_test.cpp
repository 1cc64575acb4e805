// Loading CLIP checkpoints: save/load round trip, vision-only checkpoints, and the failures a
// user meets (missing key, wrong shape, truncated file, bad config), each named in the error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/pathways/checkpoint_io.h"
#include "sfvu/pathways/clip_model.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

namespace fs = std::filesystem;

std::string clip_dir() { return test::fixture("clip_tiny"); }

// A model folder holding the fixture's config and `tensors` (a subset/variant of its weights).
std::string make_checkpoint(const std::string& name, const std::vector<TensorToWrite>& tensors) {
  std::string dir = test::scratch_dir(name);
  fs::copy_file(clip_dir() + "/config.json", dir + "/config.json");
  write_safetensors(dir + "/model.safetensors", tensors);
  return dir;
}

std::vector<TensorToWrite> fixture_tensors(const SafetensorsFile& f) {
  std::vector<TensorToWrite> out;
  for (const TensorView& v : f.tensors()) out.push_back({v.name, v.dtype, v.shape, v.data});
  return out;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

TEST(ClipLoader, SaveThenLoadGivesTheSameModel) {
  torch::NoGradGuard no_grad;
  auto a = ClipModelImpl::from_pretrained(clip_dir());
  std::string dir = test::scratch_dir("clip_roundtrip");
  fs::copy_file(clip_dir() + "/config.json", dir + "/config.json");
  save_checkpoint(*a, dir + "/model.safetensors");
  auto b = ClipModelImpl::from_pretrained(dir);
  torch::Tensor px = test::npy_tensor(clip_dir() + "/pixel_values.npy");
  EXPECT_TRUE(torch::equal(a->vision(px).embeds, b->vision(px).embeds));
  auto file = SafetensorsFile::open(dir + "/model.safetensors");
  EXPECT_EQ(file->tensors().size(), 94u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
}

TEST(ClipLoader, VisionOnlyCheckpointLoadsForImageWork) {
  torch::NoGradGuard no_grad;
  auto file = SafetensorsFile::open(clip_dir() + "/model.safetensors");
  std::vector<TensorToWrite> vision;
  for (const auto& t : fixture_tensors(*file))
    if (t.name.rfind("text_model.", 0) != 0 && t.name != "text_projection.weight" && t.name != "logit_scale")
      vision.push_back(t);
  auto clip = ClipModelImpl::from_pretrained(make_checkpoint("clip_vision_only", vision));
  EXPECT_FALSE(clip->parts().text);
  torch::Tensor px = test::npy_tensor(clip_dir() + "/pixel_values.npy");
  test::expect_close(clip->vision(px).embeds, test::npy_tensor(clip_dir() + "/image_embeds.npy"), 1e-4, 1e-4,
                     "vision-only image embeds");
  EXPECT_THROW(clip->text(torch::zeros({1, 77}, torch::kLong)), UsageError);
}

TEST(ClipLoader, MissingKeyIsNamed) {
  auto file = SafetensorsFile::open(clip_dir() + "/model.safetensors");
  auto tensors = fixture_tensors(*file);
  const std::string gone = "vision_model.encoder.layers.1.mlp.fc2.bias";
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == gone; }),
                tensors.end());
  std::string msg = error_of([&] { ClipModelImpl::from_pretrained(make_checkpoint("clip_missing", tensors)); });
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find(gone), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

TEST(ClipLoader, WrongShapeIsNamedWithBothShapes) {
  auto file = SafetensorsFile::open(clip_dir() + "/model.safetensors");
  auto tensors = fixture_tensors(*file);
  for (auto& t : tensors)
    if (t.name == "visual_projection.weight") t.shape = {64, 32};  // transposed: same bytes, wrong shape
  std::string msg = error_of([&] { ClipModelImpl::from_pretrained(make_checkpoint("clip_misshaped", tensors)); });
  EXPECT_NE(msg.find("visual_projection.weight: checkpoint [64, 32] vs model [32, 64]"), std::string::npos) << msg;
}

TEST(ClipLoader, UnexpectedKeysAreIgnoredAndPositionIdsToo) {
  torch::NoGradGuard no_grad;
  auto file = SafetensorsFile::open(clip_dir() + "/model.safetensors");
  auto tensors = fixture_tensors(*file);
  std::vector<int64_t> ids(77);
  for (int i = 0; i < 77; ++i) ids[size_t(i)] = i;
  float extra = 1.0f;
  tensors.push_back({"text_model.embeddings.position_ids", TensorDtype::kI64, {1, 77}, ids.data()});
  tensors.push_back({"some_head.weight", TensorDtype::kF32, {1}, &extra});
  std::string dir = make_checkpoint("clip_extra", tensors);
  auto clip = ClipModelImpl::from_pretrained(dir);  // does not throw
  SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(dir);
  ClipModel fresh(clip->config());
  LoadReport report = load_checkpoint(*fresh, ck);
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"some_head.weight"});
  EXPECT_TRUE(report.missing.empty());
}

TEST(ClipLoader, TruncatedCheckpointIsAFormatErrorNamingTheFile) {
  std::string dir = test::scratch_dir("clip_truncated");
  fs::copy_file(clip_dir() + "/config.json", dir + "/config.json");
  std::string bytes = test::read_text_file(clip_dir() + "/model.safetensors");
  std::ofstream(dir + "/model.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() - 1000);
  std::string msg = error_of([&] { ClipModelImpl::from_pretrained(dir); });
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("wrong exception"), std::string::npos) << msg;
}

TEST(ClipLoader, BadConfigIsNamed) {
  std::string dir = test::scratch_dir("clip_bad_config");
  std::ofstream(dir + "/config.json") << R"({"model_type": "clip", "vision_config": {"hidden_size": "wide"}})";
  std::string msg = error_of([&] { ClipModelImpl::from_pretrained(dir); });
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hidden_size"), std::string::npos) << msg;
  EXPECT_THROW(ClipModelImpl::from_pretrained(test::scratch_dir("clip_no_dir") + "/nope"), IoError);
}

TEST(ClipConfigPresets, RealShapes) {
  ClipModel b32(ClipConfig::vit_b32());
  int64_t n = 0;
  for (const auto& p : b32->parameters()) n += p.numel();
  EXPECT_EQ(n, 151277313);  // openai/clip-vit-base-patch32
  EXPECT_EQ(ClipConfig::vit_b16().vision.grid(), 14);
  EXPECT_EQ(ClipConfig::vit_l14_336().vision.grid(), 24);
}

// Note [Embedding init]: the vision tower's embeddings start as transformers' CLIP's; the text
// tower's keep torch's N(0, 1) so that its outputs depend on the words.
TEST(ClipInit, FreshVisionEmbeddingsStartAsTransformersClipAndTextAtUnitScale) {
  torch::manual_seed(0);
  ClipModel m(ClipConfig::vit_b32());
  std::map<std::string, torch::Tensor> p;
  for (const auto& kv : m->named_parameters()) p[kv.key()] = kv.value();
  auto expect_normal = [&](const std::string& key, double std, double tolerance) {
    ASSERT_TRUE(p.count(key)) << key;
    EXPECT_NEAR(p[key].std().item<double>(), std, tolerance) << key;
    EXPECT_NEAR(p[key].mean().item<double>(), 0.0, tolerance) << key;
  };
  expect_normal("vision_model.embeddings.position_embedding.weight", 0.02, 0.002);
  expect_normal("vision_model.embeddings.class_embedding", 1 / std::sqrt(768.0), 0.006);
  expect_normal("text_model.embeddings.token_embedding.weight", 1.0, 0.01);
  expect_normal("text_model.embeddings.position_embedding.weight", 1.0, 0.02);
}

}  // namespace
}  // namespace sfvu::pathways
