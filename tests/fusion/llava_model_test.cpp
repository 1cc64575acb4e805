// LlavaModel against transformers v4.45.1 on the random-weight llava_tiny fixtures
// (tests/fixtures/llava_tiny/README.md): every intermediate of every case (vision hidden states,
// selected features, projector, anyres packing, OneVision video pooling, SlowFast-LLaVA layout,
// placeholder merge) at fp32 atol 1e-4, then logits and the 8 greedy ids end to end. Also both
// checkpoint layouts, the load errors, chunked video encoding and the odd-grid SlowFast layout.
#include "sfvu/fusion/llava_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/fusion/llm_generate.h"
#include "sfvu/pathways/json_fields.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::fusion {
namespace {

namespace fs = std::filesystem;

std::string model_dir(const std::string& model) { return test::fixture("llava_tiny/" + model); }
torch::Tensor ref(const std::string& model, const std::string& name) {
  return test::npy_tensor(model_dir(model) + "/reference/" + name + ".npy");
}

// Golden comparison at the README's fp32 tolerance; the max |diff| is recorded in the test XML.
void expect_matches(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what,
                    double atol = 1e-4) {
  test::expect_close(actual, expected, atol, 0, what);
  if (actual.defined() && actual.sizes() == expected.sizes()) {
    std::ostringstream max_abs;
    max_abs << std::scientific << std::setprecision(2)
            << (actual.detach().to(torch::kFloat64) - expected.to(torch::kFloat64)).abs().max().item<double>();
    ::testing::Test::RecordProperty("max_abs_diff " + what, max_abs.str());
  }
}

std::vector<int64_t> ids_of(const torch::Tensor& t) {
  torch::Tensor flat = t.reshape({-1}).to(torch::kInt64).contiguous();
  return std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
}

// Collects warnings logged while it lives.
class LogCapture {
 public:
  LogCapture() {
    set_log_sink([this](LogLevel level, const std::string& line) {
      if (level >= LogLevel::kWarning) lines.push_back(line);
    });
  }
  ~LogCapture() { set_log_sink(stderr_log_sink); }
  std::vector<std::string> lines;
};

class LlavaVsTransformers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    llava_ = new LlavaModel(LlavaModelImpl::from_pretrained(model_dir("llava15_llama")));
    ov_ = new LlavaModel(LlavaModelImpl::from_pretrained(model_dir("onevision_qwen2")));
  }
  static void TearDownTestSuite() {
    delete llava_;
    delete ov_;
    llava_ = ov_ = nullptr;
  }
  LlavaModelImpl& llava() { return **llava_; }
  LlavaModelImpl& ov() { return **ov_; }
  torch::NoGradGuard no_grad_;
  static LlavaModel* llava_;
  static LlavaModel* ov_;
};
LlavaModel* LlavaVsTransformers::llava_ = nullptr;
LlavaModel* LlavaVsTransformers::ov_ = nullptr;

TEST_F(LlavaVsTransformers, Llava15Image) {
  const std::string m = "llava15_llama";
  torch::Tensor pixels = ref(m, "input_image_pixel_values");  // [1, 3, 24, 24]
  std::vector<torch::Tensor> hidden;
  torch::Tensor features = llava().image_features(pixels, &hidden);
  torch::Tensor expected_hidden = ref(m, "image/vision_hidden_states");  // [4, 37, 32]
  ASSERT_EQ(hidden.size(), 3u);                                          // layer -2 of 3: the last layer is never built
  for (int64_t i = 0; i < 3; ++i)
    expect_matches(hidden[size_t(i)][0], expected_hidden[i], "llava image vision hidden state " + std::to_string(i));
  expect_matches(features[0], ref(m, "image/image_features_selected"), "llava image features selected");
  torch::Tensor embeds = llava().image_embeds(pixels, {24, 24});
  expect_matches(embeds, ref(m, "image/image_embeds"), "llava image embeds");
  EXPECT_EQ(llava().image_token_count({24, 24}), 36);
  EXPECT_EQ(llava().image_crop_count({480, 640}), 1);
  expect_matches(llava().merge(ref(m, "input_image_input_ids"), embeds), ref(m, "image/inputs_embeds"),
                 "llava image inputs_embeds");
}

TEST_F(LlavaVsTransformers, Llava15SlowFastLayout) {
  const std::string m = "llava15_llama";
  torch::Tensor frames = ref(m, "input_sf_pixel_values");  // [4, 3, 24, 24]
  SlowFastLayoutOptions sf;
  sf.n_slow_frames = 2;
  for (const std::string c : {"slowfast", "slowfast_dynrope"}) {
    SCOPED_TRACE(c);
    torch::Tensor features = llava().image_features(frames);
    expect_matches(features, ref(m, c + "/frame_features_selected"), "llava " + c + " frame features");
    expect_matches(llava().project(features), ref(m, c + "/frame_embeds"), "llava " + c + " frame embeds");
    EXPECT_EQ(slowfast_slow_frames(4, sf), ids_of(ref(m, c + "/slow_frame_idx")));
    torch::Tensor visual = llava().video_embeds(frames, VideoLayout::kSlowFast, sf);
    expect_matches(visual, ref(m, c + "/slowfast_embeds"), "llava " + c + " slowfast embeds");
    EXPECT_EQ(llava().video_token_count(4, VideoLayout::kSlowFast, sf), 100);
    expect_matches(llava().merge(ref(m, "input_sf_input_ids"), visual), ref(m, c + "/inputs_embeds"),
                   "llava " + c + " inputs_embeds");
  }
}

TEST_F(LlavaVsTransformers, OnevisionVideo) {
  const std::string m = "onevision_qwen2";
  torch::Tensor frames = ref(m, "input_video_pixel_values")[0];  // [3, 3, 28, 28]
  std::vector<torch::Tensor> hidden;
  torch::Tensor features = ov().image_features(frames, &hidden);
  torch::Tensor expected_hidden = ref(m, "video/vision_hidden_states");  // [frames, 3, 49, 48]
  ASSERT_EQ(hidden.size(), 3u);
  for (int64_t i = 0; i < 3; ++i)
    expect_matches(hidden[size_t(i)], expected_hidden.select(1, i),
                   "ov video vision hidden state " + std::to_string(i));
  expect_matches(features, ref(m, "video/video_features_selected"), "ov video features selected");
  expect_matches(ov().project(features), ref(m, "video/video_proj"), "ov video projected");
  torch::Tensor visual = ov().video_embeds(frames, VideoLayout::kNative);
  expect_matches(visual, ref(m, "video/video_embeds"), "ov video embeds");
  expect_matches(visual.slice(0, 0, 48).reshape({3, 16, 64}), ref(m, "video/video_pooled"), "ov video pooled");
  EXPECT_EQ(ov().video_token_count(3, VideoLayout::kNative), 49);  // 3 x 4 x 4 + ONE newline
  expect_matches(ov().merge(ref(m, "input_video_input_ids"), visual), ref(m, "video/inputs_embeds"),
                 "ov video inputs_embeds");
}

TEST_F(LlavaVsTransformers, OnevisionAnyresImage) {
  const std::string m = "onevision_qwen2";
  torch::Tensor crops = ref(m, "input_image_pixel_values")[0];  // [5, 3, 28, 28]
  const auto sizes = ids_of(ref(m, "input_image_sizes"));
  const std::pair<int64_t, int64_t> size{sizes[0], sizes[1]};  // (40, 60)
  EXPECT_EQ(select_best_resolution(size, ov().config().image_grid_pinpoints), std::make_pair(int64_t(56), int64_t(56)));
  EXPECT_EQ(ov().image_crop_count(size), 5);
  torch::Tensor features = ov().image_features(crops);
  expect_matches(features, ref(m, "image/image_features_selected"), "ov image features selected");
  expect_matches(ov().project(features), ref(m, "image/image_proj"), "ov image projected");
  torch::Tensor visual = ov().image_embeds(crops, size);
  expect_matches(visual, ref(m, "image/image_embeds"), "ov anyres image embeds");
  EXPECT_EQ(ov().image_token_count(size), 199);  // 49 base + 10 x 14 unpadded + 10 newlines
  expect_matches(ov().merge(ref(m, "input_image_input_ids"), visual), ref(m, "image/inputs_embeds"),
                 "ov image inputs_embeds");
}

TEST(AnyresGeometry, SelectBestResolutionPrefersEffectiveThenLeastWaste) {
  const std::vector<std::pair<int64_t, int64_t>> next = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
  EXPECT_EQ(select_best_resolution({1000, 500}, next), std::make_pair(int64_t(672), int64_t(336)));
  EXPECT_EQ(select_best_resolution({300, 1000}, next), std::make_pair(int64_t(336), int64_t(1008)));
  EXPECT_EQ(select_best_resolution({800, 800}, next), std::make_pair(int64_t(672), int64_t(672)));
  // Every candidate holds a small image whole: the least wasted area wins.
  EXPECT_EQ(select_best_resolution({100, 100}, next), std::make_pair(int64_t(336), int64_t(672)));
}

TEST(AnyresGeometry, RealModelTokenCounts) {
  // transformers' processor arithmetic for the real towers (27x27 SigLIP tiles of 384 px with
  // anyres_max_9; 24x24 CLIP tiles of 336 px).
  const LlavaConfig ov = LlavaConfig::defaults("llava_onevision");
  EXPECT_EQ(image_crop_count(ov, {899, 1024}), 10);     // 1152 x 1152: 3 x 3 tiles
  EXPECT_EQ(image_token_count(ov, {899, 1024}), 6551);  // 729 + 71 rows x (81 + 1)
  EXPECT_EQ(image_token_count(ov, {480, 640}), 2929);
  EXPECT_EQ(image_crop_count(ov, {1080, 1920}), 16);     // 1152 x 1920: 3 x 5 tiles
  EXPECT_EQ(image_token_count(ov, {1080, 1920}), 7269);  // 75 x 135 downsized by 1.242 to 60 x 108
  EXPECT_EQ(image_token_count(ov, {2000, 300}), 4941);
  const LlavaConfig next = LlavaConfig::defaults("llava_next");
  EXPECT_EQ(image_token_count(next, {899, 1024}), 2634);
  EXPECT_EQ(image_token_count(next, {480, 640}), 2340);
  EXPECT_EQ(image_token_count(next, {1080, 1920}), 1948);
  EXPECT_EQ(image_token_count(LlavaConfig::defaults("llava"), {1080, 1920}), 576);
}

TEST(AnyresGeometry, DownsizedGridMatchesTheCount) {
  // The fixture's tiny OneVision with pinpoints up to 6 x 6 tiles: a 168 x 168 image gives a
  // 42 x 42 grid, sqrt(42^2 / (9 * 7^2)) = 2 > 1.1, so it is bilinearly halved to 21 x 21.
  torch::NoGradGuard no_grad;
  LlavaConfig c = LlavaConfig::from_file(model_dir("onevision_qwen2") + "/config.json");
  c.image_grid_pinpoints = {{28, 28}, {168, 168}, {168, 112}};
  LlavaModelImpl model(c);
  EXPECT_EQ(model.image_crop_count({168, 168}), 37);
  EXPECT_EQ(model.image_token_count({168, 168}), 49 + 21 * 22);
  torch::Tensor crops = torch::randn({37, 3, 28, 28});
  torch::Tensor visual = model.image_embeds(crops, {168, 168});
  ASSERT_EQ(visual.size(0), 49 + 21 * 22);
  for (int64_t r = 0; r < 21; ++r) EXPECT_TRUE(torch::equal(visual[49 + r * 22 + 21], model.image_newline())) << r;
  EXPECT_EQ(model.image_embeds(crops.slice(0, 0, 25), {160, 100}).size(0), model.image_token_count({160, 100}));
}

TEST_F(LlavaVsTransformers, AnyresTokenCountAlwaysMatchesTheEmbeddings) {
  // Aspect ratios on both sides of the pinpoints' (tall, wide, square; odd sizes for int()).
  torch::Tensor crops = ref("onevision_qwen2", "input_image_pixel_values")[0];
  for (const auto& size :
       std::vector<std::pair<int64_t, int64_t>>{{40, 60}, {60, 40}, {33, 97}, {97, 33}, {50, 50}, {7, 9}}) {
    const int64_t n = ov().image_crop_count(size);
    torch::Tensor pixels = crops.slice(0, 0, 1).expand({n, 3, 28, 28});
    EXPECT_EQ(ov().image_embeds(pixels, size).size(0), ov().image_token_count(size))
        << size.first << "x" << size.second;
  }
}

TEST_F(LlavaVsTransformers, ChunkedVideoEncodingEqualsOnePass) {
  torch::Tensor ov_frames = ref("onevision_qwen2", "input_video_pixel_values")[0];
  torch::Tensor whole = ov().video_embeds(ov_frames, VideoLayout::kNative, {}, 8);
  for (int64_t chunk : {1, 2})
    test::expect_close(ov().video_embeds(ov_frames, VideoLayout::kNative, {}, chunk), whole, 1e-5, 0,
                       "ov native chunk " + std::to_string(chunk));

  torch::Tensor sf_frames = ref("llava15_llama", "input_sf_pixel_values");
  SlowFastLayoutOptions sf;
  sf.n_slow_frames = 2;
  torch::Tensor sf_whole = llava().video_embeds(sf_frames, VideoLayout::kSlowFast, sf, 8);
  for (int64_t chunk : {1, 3})
    test::expect_close(llava().video_embeds(sf_frames, VideoLayout::kSlowFast, sf, chunk), sf_whole, 1e-5, 0,
                       "llava slowfast chunk " + std::to_string(chunk));
  // Frames arriving in uneven batches (a decoder's chunks).
  VideoEmbedSession session(llava(), 4, VideoLayout::kSlowFast, sf, 2);
  session.add_frames(sf_frames.slice(0, 0, 3));
  EXPECT_EQ(session.frames_seen(), 3);
  session.add_frames(sf_frames.slice(0, 3, 4));
  test::expect_close(session.finish(), sf_whole, 1e-5, 0, "slowfast session");
}

TEST_F(LlavaVsTransformers, SlowFastOnOnevisionsOddGrid) {
  // Note [SlowFast on odd grids]: 7x7 -> slow 7 x 4 (last column alone), fast 4x4 overlapping bins.
  torch::Tensor frames = ref("onevision_qwen2", "input_video_pixel_values")[0];  // 3 frames
  SlowFastLayoutOptions sf;
  sf.n_slow_frames = 2;  // frames 0 and 1 (int32(linspace(0, 3, 3))[:-1])
  EXPECT_EQ(slowfast_slow_frames(3, sf), (std::vector<int64_t>{0, 1}));
  torch::Tensor visual = ov().video_embeds(frames, VideoLayout::kSlowFast, sf);
  ASSERT_EQ(visual.size(0), 2 * 28 + 3 * 16 + 1);
  EXPECT_EQ(ov().video_token_count(3, VideoLayout::kSlowFast, sf), visual.size(0));
  torch::Tensor grid = ov().project(ov().image_features(frames)).view({3, 7, 7, 64});
  for (int64_t f = 0; f < 2; ++f)
    for (int64_t r = 0; r < 7; ++r)
      for (int64_t m = 0; m < 4; ++m) {
        torch::Tensor want = m < 3 ? torch::max(grid[f][r][2 * m], grid[f][r][2 * m + 1]) : grid[f][r][6];
        ASSERT_TRUE(torch::allclose(visual[f * 28 + r * 4 + m], want))
            << "slow frame " << f << " row " << r << " pair " << m;
      }
  // Fast bins on 7: [0,2) [1,4) [3,6) [5,7).
  test::expect_close(visual[56], grid[0].slice(0, 0, 2).slice(1, 0, 2).mean(std::vector<int64_t>{0, 1}), 1e-6, 0,
                     "fast bin (0, 0)");
  test::expect_close(visual[56 + 16 + 5], grid[1].slice(0, 1, 4).slice(1, 1, 4).mean(std::vector<int64_t>{0, 1}), 1e-6,
                     0, "fast bin (1, 1)");
  EXPECT_TRUE(torch::equal(visual[visual.size(0) - 1], ov().image_newline()));
  sf.append_newline = false;
  EXPECT_EQ(ov().video_embeds(frames, VideoLayout::kSlowFast, sf).size(0), visual.size(0) - 1);
  sf.slow_pool_pairs = false;
  EXPECT_EQ(ov().video_token_count(3, VideoLayout::kSlowFast, sf), 2 * 49 + 3 * 16);
}

TEST_F(LlavaVsTransformers, LayoutAndMergeMisuseIsReported) {
  torch::Tensor frames = ref("llava15_llama", "input_sf_pixel_values");
  EXPECT_THROW(llava().video_embeds(frames, VideoLayout::kNative), UsageError);  // llava has no video path
  EXPECT_THROW(parse_video_layout("pooled"), UsageError);
  EXPECT_EQ(parse_video_layout("slowfast"), VideoLayout::kSlowFast);
  EXPECT_EQ(to_string(VideoLayout::kNative), "native");
  torch::Tensor visual = llava().image_embeds(ref("llava15_llama", "input_image_pixel_values"), {24, 24});
  test::expect_error<FormatError>(
      [&] { llava().merge(ref("llava15_llama", "input_image_input_ids"), visual.slice(0, 1)); },
      {"36 placeholder slots", "35 visual embeddings"});
  VideoEmbedSession session(llava(), 2, VideoLayout::kSlowFast);
  EXPECT_THROW(session.add_frames(frames), UsageError);  // 4 frames into a 2-frame video
  EXPECT_THROW(session.finish(), UsageError);            // none added
  EXPECT_THROW(llava().image_features(torch::zeros({1, 3, 28, 28})), UsageError);
}

// ---- Loading ----

// A copy of `src`'s checkpoint (one file) and config.json in a scratch dir; `edit` renames or
// reshapes a tensor, or returns false to leave it out; `extra` tensors are added.
std::string rewrite_checkpoint(const std::string& src, const std::string& name,
                               const std::function<bool(TensorToWrite&)>& edit,
                               const std::vector<TensorToWrite>& extra = {}) {
  const std::string dir = test::scratch_dir(name);
  fs::copy_file(src + "/config.json", dir + "/config.json");
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(src);
  std::vector<TensorToWrite> out;
  for (const std::string& key : checkpoint.names()) {
    const TensorView& v = checkpoint.tensor(key);
    TensorToWrite t{key, v.dtype, v.shape, v.data};
    if (edit(t)) out.push_back(t);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  write_safetensors(dir + "/model.safetensors", out);
  return dir;
}

// transformers >= 4.52's names for an old-layout key.
std::string new_layout_key(const std::string& key) {
  const std::vector<std::pair<std::string, std::string>> renames = {
      {"language_model.model.", "model.language_model."},
      {"language_model.lm_head.", "lm_head."},
      {"vision_tower.", "model.vision_tower."},
      {"multi_modal_projector.", "model.multi_modal_projector."},
      {"image_newline", "model.image_newline"}};
  for (const auto& [from, to] : renames)
    if (key.rfind(from, 0) == 0) return to + key.substr(from.size());
  return key;
}

void expect_same_parameters(LlavaModelImpl& a, LlavaModelImpl& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
}

TEST(LlavaLoading, ShardedF16SkipsUnusedVisionTensorsSilently) {
  LogCapture log;
  auto model = LlavaModelImpl::from_pretrained(model_dir("llava15_llama"));
  EXPECT_TRUE(log.lines.empty()) << log.lines.front();
  int64_t layer2 = 0;
  for (const auto& p : model->named_parameters()) layer2 += p.key().find("encoder.layers.2.") != std::string::npos;
  EXPECT_EQ(layer2, 0);  // the feature layer (-2 of 3) never reaches layer 2: not even allocated
  EXPECT_NE(model->named_parameters().find("language_model.lm_head.weight"), nullptr);
  EXPECT_FALSE(model->image_newline().defined());
  EXPECT_EQ(model->dtype(), torch::kFloat32);
  // Inference only, with or without the caller's NoGradGuard.
  torch::Tensor pixels = ref("llava15_llama", "input_image_pixel_values");
  EXPECT_FALSE(model->image_embeds(pixels, {24, 24}).requires_grad());
  EXPECT_FALSE(model->video_embeds(pixels.expand({2, 3, 24, 24}), VideoLayout::kSlowFast).requires_grad());
}

TEST(LlavaLoading, NewTensorLayoutLoadsTheSameWeights) {
  for (const std::string m : {"llava15_llama", "onevision_qwen2"}) {
    SCOPED_TRACE(m);
    const std::string dir = rewrite_checkpoint(model_dir(m), "llava_new_layout_" + m, [](TensorToWrite& t) {
      t.name = new_layout_key(t.name);
      return true;
    });
    ASSERT_TRUE(SafetensorsFile::open(dir + "/model.safetensors")
                    ->contains("model.vision_tower.vision_model.embeddings.patch_embedding.weight"));
    LogCapture log;
    auto a = LlavaModelImpl::from_pretrained(model_dir(m));
    auto b = LlavaModelImpl::from_pretrained(dir);
    EXPECT_TRUE(log.lines.empty()) << log.lines.front();
    expect_same_parameters(*a, *b);
  }
}

TEST(LlavaLoading, WrongShapedTensorNamesTheFileAndTensor) {
  const std::string dir = rewrite_checkpoint(model_dir("onevision_qwen2"), "llava_wrong_shape", [](TensorToWrite& t) {
    if (t.name == "multi_modal_projector.linear_1.weight") t.shape = {48, 64};  // transposed: same bytes
    return true;
  });
  test::expect_error<FormatError>([&] { LlavaModelImpl::from_pretrained(dir); },
                                  {dir + "/model.safetensors", "multi_modal_projector.linear_1.weight", "[48, 64]"});
  // The same in the new layout names the new key.
  const std::string dir2 =
      rewrite_checkpoint(model_dir("onevision_qwen2"), "llava_wrong_shape_new", [](TensorToWrite& t) {
        if (t.name == "image_newline") t.shape = {1, 64};
        t.name = new_layout_key(t.name);
        return true;
      });
  test::expect_error<FormatError>([&] { LlavaModelImpl::from_pretrained(dir2); },
                                  {dir2 + "/model.safetensors", "model.image_newline"});
}

TEST(LlavaLoading, MissingTensorNamesTheFileAndTensor) {
  const std::string dir = rewrite_checkpoint(model_dir("llava15_llama"), "llava_missing", [](TensorToWrite& t) {
    return t.name != "language_model.model.norm.weight";
  });
  test::expect_error<FormatError>([&] { LlavaModelImpl::from_pretrained(dir); },
                                  {dir + "/model.safetensors", "language_model.model.norm.weight"});
  const std::string dir2 =
      rewrite_checkpoint(model_dir("onevision_qwen2"), "llava_missing_vision", [](TensorToWrite& t) {
        return t.name != "vision_tower.vision_model.encoder.layers.1.mlp.fc2.bias";  // a layer the feature layer needs
      });
  test::expect_error<FormatError>(
      [&] { LlavaModelImpl::from_pretrained(dir2); },
      {dir2 + "/model.safetensors", "vision_tower.vision_model.encoder.layers.1.mlp.fc2.bias"});
}

TEST(LlavaLoading, UnknownTensorsAreWarnedAboutByName) {
  static const float extra[2] = {1, 2};
  const std::string dir =
      rewrite_checkpoint(model_dir("onevision_qwen2"), "llava_extra", [](TensorToWrite&) { return true; },
                         {{"multi_modal_projector.extra_scale", TensorDtype::kF32, {2}, extra}});
  LogCapture log;
  LlavaModelImpl::from_pretrained(dir);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_NE(log.lines[0].find("multi_modal_projector.extra_scale"), std::string::npos) << log.lines[0];
}

TEST(LlavaLoading, BadConfigKeyTypeNamesTheFileAndKey) {
  const std::string dir =
      rewrite_checkpoint(model_dir("onevision_qwen2"), "llava_bad_config", [](TensorToWrite&) { return true; });
  nlohmann::json j = pathways::read_json_file(dir + "/config.json");
  j["vision_feature_layer"] = "last";
  std::ofstream(dir + "/config.json") << j.dump();
  test::expect_error<FormatError>([&] { LlavaModelImpl::from_pretrained(dir); },
                                  {dir + "/config.json", "vision_feature_layer"});
  test::expect_error<IoError>([] { LlavaModelImpl::from_pretrained("/nonexistent/llava"); }, {"/nonexistent/llava"});
}

TEST(LlavaLoading, Bf16IsCloseToFp32) {
  torch::NoGradGuard no_grad;
  auto fp32 = LlavaModelImpl::from_pretrained(model_dir("onevision_qwen2"));
  auto bf16 = LlavaModelImpl::from_pretrained(model_dir("onevision_qwen2"), torch::kBFloat16);
  EXPECT_EQ(bf16->dtype(), torch::kBFloat16);
  torch::Tensor frames = ref("onevision_qwen2", "input_video_pixel_values")[0];
  torch::Tensor a = fp32->video_embeds(frames, VideoLayout::kNative);
  torch::Tensor b = bf16->video_embeds(frames, VideoLayout::kNative);
  EXPECT_EQ(b.scalar_type(), torch::kBFloat16);
  EXPECT_GE(test::min_cosine(a, b), 0.99);
}

// ---- End to end: merge -> language model -> logits and greedy ids ----

struct Case {
  std::string model, name, ids_input;
  std::function<torch::Tensor(LlavaModelImpl&)> visual;  // null: text only
};

void expect_end_to_end(LlavaModelImpl& llava, const Case& c) {
  SCOPED_TRACE(c.model + "/" + c.name);
  torch::NoGradGuard no_grad;
  const std::string m = c.model;
  torch::Tensor ids = ref(m, c.ids_input);
  torch::Tensor embeds =
      c.visual ? llava.merge(ids, c.visual(llava)) : llava.language_model()->embed(ids.reshape({-1}));
  const std::string what = m + " " + c.name;
  LlmForCausalLMImpl& lm = *llava.language_model();
  KvCache cache(llava.config().text, embeds.size(0) + 8, llava.dtype());
  torch::Tensor hidden = lm.forward(embeds, cache);
  const bool full = fs::exists(model_dir(m) + "/reference/" + c.name + "/logits_full.npy");
  if (full)
    expect_matches(lm.logits(hidden), ref(m, c.name + "/logits_full"), what + " logits_full");
  else
    expect_matches(lm.logits(hidden.slice(0, -1))[0], ref(m, c.name + "/logits_last"), what + " logits_last");

  GenerateOptions options;
  options.max_new_tokens = 8;
  options.keep_step_logits = true;
  GenerateResult r = generate(lm, embeds, ids_of(ids), options, cache);
  EXPECT_EQ(r.ids, ids_of(ref(m, c.name + "/generated_ids"))) << what;
  expect_matches(r.step_logits, ref(m, c.name + "/gen_step_logits"), what + " generate step logits");
}

TEST_F(LlavaVsTransformers, EndToEndLogitsAndGreedyIds) {
  SlowFastLayoutOptions sf;
  sf.n_slow_frames = 2;
  auto slowfast = [sf](LlavaModelImpl& l) {
    return l.video_embeds(ref("llava15_llama", "input_sf_pixel_values"), VideoLayout::kSlowFast, sf);
  };
  expect_end_to_end(llava(), {"llava15_llama", "image", "input_image_input_ids", [](LlavaModelImpl& l) {
                                return l.image_embeds(ref("llava15_llama", "input_image_pixel_values"), {24, 24});
                              }});
  expect_end_to_end(llava(), {"llava15_llama", "text", "input_text_input_ids", nullptr});
  expect_end_to_end(llava(), {"llava15_llama", "slowfast", "input_sf_input_ids", slowfast});
  expect_end_to_end(ov(), {"onevision_qwen2", "video", "input_video_input_ids", [](LlavaModelImpl& l) {
                             return l.video_embeds(ref("onevision_qwen2", "input_video_pixel_values")[0],
                                                   VideoLayout::kNative);
                           }});
  expect_end_to_end(ov(), {"onevision_qwen2", "image", "input_image_input_ids", [](LlavaModelImpl& l) {
                             return l.image_embeds(ref("onevision_qwen2", "input_image_pixel_values")[0], {40, 60});
                           }});
  expect_end_to_end(ov(), {"onevision_qwen2", "text", "input_text_input_ids", nullptr});

  // SF-LLaVA's dynamic NTK RoPE (x2), given as a config override as `sfvu --rope-scaling` does.
  LlavaConfig config = LlavaConfig::from_file(model_dir("llava15_llama") + "/config.json");
  config.text.rope_scaling = RopeScaling::parse("dynamic:2");
  auto dynrope = LlavaModelImpl::from_pretrained(model_dir("llava15_llama"), config);
  expect_end_to_end(*dynrope, {"llava15_llama", "slowfast_dynrope", "input_sf_input_ids", slowfast});
}

}  // namespace
}  // namespace sfvu::fusion
