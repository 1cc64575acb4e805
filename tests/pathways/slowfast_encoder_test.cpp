// The Slow/Fast encoder end to end on real videos with the random-weight clip_tiny fixture:
// shapes, times aligned with the decoder's, tokens equal to the backbone run by hand, shared
// frames, chunking, the sf-llava preset, and the token cache.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/pathways/place_flow.h"
#include "sfvu/pathways/slowfast_encoder.h"
#include "sfvu/pathways/slowfast_layout.h"
#include "sfvu/pathways/torch_runtime.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

namespace fs = std::filesystem;

// A copy of the shared bundle (the model holder is shared, not the weights).
ClipBundle tiny() {
  static const ClipBundle clip = ClipBundle::load(test::fixture("clip_tiny"));
  return clip;
}

// The tiny model's low size equals its full size (32 px); a 16 px fast input keeps the
// pathways on separate streams, as with real models.
SlowFastOptions two_stream_options() {
  SlowFastOptions o;
  o.fast.input_size = 16;
  return o;
}

VideoTokens encode(const SlowFastOptions& o, const std::string& video, EncodeStats* stats = nullptr) {
  SlowFastEncoder encoder(tiny(), o);
  decode::VideoReader reader(decode::Source::path(video));
  return encoder.encode(reader, {}, stats);
}

TEST(SlowFastEncoder, ShapesAndTimesMatchTheDecoder) {
  EncodeStats st;
  VideoTokens t = encode(two_stream_options(), test::video("bikes.mp4"), &st);
  EXPECT_DOUBLE_EQ(t.duration_seconds, 10.0);
  ASSERT_EQ(t.slow.sizes(), (std::vector<int64_t>{10, 4, 4, 64}));
  ASSERT_EQ(t.fast.sizes(), (std::vector<int64_t>{80, 2, 2, 64}));  // 4x4 pool of a 2x2 grid keeps 2x2
  EXPECT_EQ(t.slow_embeds.sizes(), (std::vector<int64_t>{10, 32}));
  EXPECT_EQ(t.fast_embeds.sizes(), (std::vector<int64_t>{80, 32}));
  EXPECT_EQ(t.n_tokens(), 10 * 16 + 80 * 4);
  EXPECT_EQ(t.layout().sizes(), (std::vector<int64_t>{480, 64}));
  EXPECT_EQ(st.frames_slow, 10);
  EXPECT_EQ(st.frames_fast, 80);
  EXPECT_EQ(st.backbone_images, 90);
  EXPECT_GT(st.backbone_gflop, 0);
  // The frames the decoder returns for the same times.
  decode::VideoReader reader(decode::Source::path(test::video("bikes.mp4")));
  SlowFastPlan plan = SlowFastEncoder(tiny(), two_stream_options()).plan(reader);
  auto ref = reader.read({{decode::SamplingPlan::at(plan.slow.times_seconds), decode::FrameFormat::square(32)},
                          {decode::SamplingPlan::at(plan.fast.times_seconds), decode::FrameFormat::square(16)}});
  EXPECT_EQ(t.slow_pts_seconds, ref.streams[0].pts_seconds);
  EXPECT_EQ(t.slow_frame_indices, ref.streams[0].indices);
  EXPECT_EQ(t.fast_pts_seconds, ref.streams[1].pts_seconds);
  EXPECT_EQ(t.fast_frame_indices, ref.streams[1].indices);
  // Tokens are the backbone's last block output on those frames, CLS dropped.
  torch::NoGradGuard no_grad;
  torch::Tensor frames = frames_to_tensor(std::move(ref.streams[0]));
  VisionOutput v = tiny().model->vision(tiny().processor.normalize(frames));
  test::expect_close(t.slow, v.patch_grid, 1e-5, 1e-5, "slow tokens");
  test::expect_close(t.slow_embeds, v.embeds, 1e-5, 1e-5, "slow embeds");
}

TEST(SlowFastEncoder, PoolingFollowsThePlan) {
  SlowFastOptions o;
  o.fast.pool_h = o.fast.pool_w = 2;
  o.slow.pair_max_pool = true;
  VideoTokens t = encode(o, test::video("bikes.mp4"));
  ASSERT_EQ(t.fast.sizes(), (std::vector<int64_t>{80, 2, 2, 64}));
  ASSERT_EQ(t.slow.sizes(), (std::vector<int64_t>{10, 4, 2, 64}));
  // Shared frames (same 32 px input): the fast grid at the slow times, pooled both ways.
  decode::VideoReader reader(decode::Source::path(test::video("bikes.mp4")));
  SlowFastEncoder encoder(tiny(), o);
  SlowFastPlan plan = encoder.plan(reader);
  ASSERT_TRUE(plan.shared_frames);
  auto ref = reader.read({{decode::SamplingPlan::at(plan.slow.times_seconds), decode::FrameFormat::square(32)}});
  torch::NoGradGuard no_grad;
  torch::Tensor grid = tiny().model->vision(tiny().processor.normalize(frames_to_tensor(std::move(ref.streams[0])))).patch_grid;
  test::expect_close(t.slow, max_pool_pairs(grid), 1e-5, 1e-5, "slow pair max-pool");
  torch::Tensor fast_at_slow = t.fast.index_select(0, torch::tensor(plan.slow_positions, torch::kInt64));
  test::expect_close(fast_at_slow, adaptive_avg_pool_grid(grid, 2, 2), 1e-5, 1e-5, "fast 2x2 pool");
  for (size_t j = 0; j < plan.slow_positions.size(); ++j)
    EXPECT_EQ(t.slow_pts_seconds[j], t.fast_pts_seconds[size_t(plan.slow_positions[j])]);
}

TEST(SlowFastEncoder, ChunkSizeAndRepetitionDoNotChangeTokens) {
  SlowFastOptions a = two_stream_options(), b = two_stream_options();
  b.batch = 3;
  VideoTokens x = encode(a, test::video("nasa_13013.mp4")), y = encode(b, test::video("nasa_13013.mp4")),
              z = encode(a, test::video("nasa_13013.mp4"));
  test::expect_close(y.fast, x.fast, 1e-5, 1e-5, "batch 3 vs 16");
  test::expect_close(y.slow_embeds, x.slow_embeds, 1e-5, 1e-5, "batch 3 vs 16");
  EXPECT_TRUE(torch::equal(x.fast, z.fast));
  EXPECT_TRUE(torch::equal(x.slow, z.slow));
}

// Note [Place flow]: measured over the whole fast stream (not per chunk), kept with the tokens.
TEST(SlowFastEncoder, FastFlowIsTheDecodedFastFramesPlaceFlow) {
  SlowFastOptions o = two_stream_options(), chunked = two_stream_options();
  o.fast_flow = chunked.fast_flow = true;
  chunked.batch = 3;
  VideoTokens t = encode(o, test::video("bikes.mp4")), c = encode(chunked, test::video("bikes.mp4"));
  ASSERT_EQ(t.fast_flow.sizes(), (std::vector<int64_t>{80, 2, 2, 2}));
  EXPECT_TRUE(torch::equal(t.fast_flow, c.fast_flow));
  decode::VideoReader reader(decode::Source::path(test::video("bikes.mp4")));
  SlowFastPlan plan = SlowFastEncoder(tiny(), o).plan(reader);
  auto ref = reader.read({{decode::SamplingPlan::at(plan.fast.times_seconds), decode::FrameFormat::square(16)}});
  test::expect_close(t.fast_flow, place_flow(frames_to_tensor(std::move(ref.streams[0])), 2, 2), 1e-6, 1e-6, "fast flow");
  EXPECT_GT(t.fast_flow.abs().max().item<double>(), 0.01);  // the bikes move
  EXPECT_FALSE(encode(two_stream_options(), test::video("bikes.mp4")).fast_flow.defined());
  EXPECT_NE(o.describe(), two_stream_options().describe());  // cached tokens tell them apart
  const std::string path = test::scratch_dir("video_tokens_flow") + "/t.safetensors";
  save_video_tokens(path, t);
  EXPECT_TRUE(torch::equal(load_video_tokens(path).fast_flow, t.fast_flow));
}

TEST(SlowFastEncoder, SfLlavaPresetTakesFiftyFramesByIndex) {
  VideoTokens t = encode(SlowFastOptions::preset("sf-llava"), test::video("nasa_13013.mp4"));  // 390 frames
  EXPECT_EQ(t.fast_frame_indices, sf_llava_frame_indices(390, 50));
  std::vector<int64_t> slow_idx;
  for (int64_t j : sf_llava_slow_positions(50, 10)) slow_idx.push_back(t.fast_frame_indices[size_t(j)]);
  EXPECT_EQ(t.slow_frame_indices, slow_idx);
  ASSERT_EQ(t.slow.sizes(), (std::vector<int64_t>{10, 4, 2, 64}));
  ASSERT_EQ(t.fast.sizes(), (std::vector<int64_t>{50, 4, 4, 64}));
  EXPECT_EQ(t.layout().size(0), 10 * 8 + 50 * 16);
  // Penultimate layer, squashed frames (stretch).
  decode::VideoReader reader(decode::Source::path(test::video("nasa_13013.mp4")));
  std::vector<double> times(t.fast_pts_seconds.begin(), t.fast_pts_seconds.begin() + 4);
  auto ref = reader.read({{decode::SamplingPlan::at(times), decode::FrameFormat::square(32, decode::ResizeMode::kStretch)}});
  torch::NoGradGuard no_grad;
  VisionOutput v = tiny().model->vision(tiny().processor.normalize(frames_to_tensor(std::move(ref.streams[0]))), true);
  torch::Tensor penultimate = v.hidden_states[2].slice(1, 1).reshape({4, 4, 4, 64});
  test::expect_close(t.fast.slice(0, 0, 4), penultimate, 1e-5, 1e-5, "sf-llava fast = penultimate layer");
}

TEST(SlowFastEncoder, LayerOutOfRangeIsAUsageError) {
  SlowFastOptions o;
  o.layer = -5;  // the tiny model has 3 layers: -1..-4
  test::expect_error<UsageError>([&] { SlowFastEncoder(tiny(), o); }, {"layer", "-5"});
}

TEST(SlowFastEncoder, DecoderErrorsNameTheFile) {
  SlowFastEncoder encoder(tiny(), SlowFastOptions{});
  test::expect_error<IoError>(
      [&] {
        decode::VideoReader r(decode::Source::path("/no/such/video.mp4"));
        encoder.encode(r);
      },
      {"/no/such/video.mp4"});
}

TEST(VideoTokens, SaveLoadRoundTrip) {
  VideoTokens t = encode(two_stream_options(), test::video("fire2.mp4"));
  const std::string path = test::scratch_dir("video_tokens_roundtrip") + "/t.safetensors";
  save_video_tokens(path, t, {{"note", "x"}});
  std::map<std::string, std::string> meta;
  VideoTokens u = load_video_tokens(path, &meta);
  EXPECT_EQ(meta["note"], "x");
  EXPECT_DOUBLE_EQ(u.duration_seconds, t.duration_seconds);
  EXPECT_TRUE(torch::equal(u.slow, t.slow));
  EXPECT_TRUE(torch::equal(u.fast, t.fast));
  EXPECT_TRUE(torch::equal(u.fast_embeds, t.fast_embeds));
  EXPECT_EQ(u.fast_pts_seconds, t.fast_pts_seconds);
  EXPECT_EQ(u.slow_frame_indices, t.slow_frame_indices);
}

TEST(VideoTokens, LoadRejectsOtherFiles) {
  const std::string dir = test::scratch_dir("video_tokens_bad");
  test::expect_error<FormatError>([&] { load_video_tokens(test::fixture("clip_tiny/model.safetensors")); },
                                  {"model.safetensors", "video-tokens"});
  std::ofstream(dir + "/junk.safetensors") << "not a safetensors file";
  EXPECT_THROW(load_video_tokens(dir + "/junk.safetensors"), Error);
}

TEST(TokenCache, HitMissAndInvalidation) {
  const std::string dir = test::scratch_dir("token_cache");
  const std::string video = dir + "/clip.mp4";
  fs::copy_file(test::video("fire2.mp4"), video);
  TokenCache cache(dir + "/cache");
  VideoTokens t = encode(two_stream_options(), video);
  EXPECT_FALSE(cache.get(video, "k1").has_value());
  const std::string path = cache.put(video, "k1", t);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(fs::path(path).filename().string().rfind("clip-", 0), 0u);
  auto hit = cache.get(video, "k1");
  ASSERT_TRUE(hit.has_value());
  EXPECT_TRUE(torch::equal(hit->fast, t.fast));
  EXPECT_FALSE(cache.get(video, "k2").has_value());  // other options or model
  // A damaged entry is a miss (with a warning), never an error.
  std::vector<std::string> warnings;
  set_log_sink([&](LogLevel l, const std::string& m) {
    if (l == LogLevel::kWarning) warnings.push_back(m);
  });
  { std::ofstream(path, std::ios::trunc) << "garbage"; }
  EXPECT_FALSE(cache.get(video, "k1").has_value());
  set_log_sink(nullptr);
  EXPECT_EQ(warnings.size(), 1u);
  // A changed video (size/mtime) maps to another entry.
  cache.put(video, "k1", t);
  ASSERT_TRUE(cache.get(video, "k1").has_value());
  { std::ofstream(video, std::ios::app) << "x"; }
  EXPECT_FALSE(cache.get(video, "k1").has_value());
}

TEST(TokenCache, StableHashIsFnv1a) {
  EXPECT_EQ(stable_hash_hex(""), "cbf29ce484222325");
  EXPECT_EQ(stable_hash_hex("a"), "af63dc4c8601ec8c");
}

}  // namespace
}  // namespace sfvu::pathways
