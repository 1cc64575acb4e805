// Training-free grounding and QA (Note [Training-free scoring]): clip averaging by hand, and
// the head on video tokens built so the answer is known exactly, then the pipeline on a real
// video with the clip_tiny fixture (shapes, determinism, token cache).
#include <gtest/gtest.h>

#include <cmath>

#include "sfvu/base/error.h"
#include "sfvu/grounding/training_free_head.h"
#include "sfvu/grounding/video_pipeline.h"
#include "support/test_support.h"

namespace sfvu::grounding {
namespace {

std::shared_ptr<const pathways::ClipBundle> tiny() {
  static auto clip = std::make_shared<const pathways::ClipBundle>(pathways::ClipBundle::load(test::fixture("clip_tiny")));
  return clip;
}

TEST(FramesToClips, AveragesPerClipAndInterpolatesGaps) {
  auto c = frames_to_clips({0.0, 0.5, 1.0, 5.0}, {1, 3, 5, 7}, 6.0, 2.0);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_FLOAT_EQ(c[0], 3.0f);  // mean of 1, 3, 5
  EXPECT_FLOAT_EQ(c[1], 5.0f);  // empty: halfway between 3 and 7
  EXPECT_FLOAT_EQ(c[2], 7.0f);
  auto edge = frames_to_clips({3.0}, {2}, 7.0, 2.0);  // 4 clips, only clip 1 has a frame
  EXPECT_EQ(edge, (std::vector<float>{2, 2, 2, 2}));
  auto last = frames_to_clips({0.0, 9.5}, {1, 4}, 9.0, 2.0);  // a time past the end lands in the last clip
  EXPECT_EQ(last.size(), 5u);
  EXPECT_FLOAT_EQ(last[4], 4.0f);
  EXPECT_TRUE(frames_to_clips({}, {}, 4.0, 2.0).empty());
  EXPECT_THROW(frames_to_clips({0.0}, {1, 2}, 4.0, 2.0), UsageError);
  EXPECT_THROW(frames_to_clips({0.0}, {1}, 4.0, 0.0), UsageError);
}

// Frame embeddings equal to `target` inside [from, to) seconds, orthogonal to it elsewhere.
torch::Tensor planted(const torch::Tensor& target, const std::vector<double>& pts, double from, double to) {
  torch::manual_seed(1);
  torch::Tensor t = torch::nn::functional::normalize(target, torch::nn::functional::NormalizeFuncOptions().dim(-1));
  torch::Tensor out = torch::randn({int64_t(pts.size()), target.size(-1)});
  out = out - torch::matmul(out, t.t()) * t;  // orthogonal to the target
  for (size_t i = 0; i < pts.size(); ++i)
    if (pts[i] >= from && pts[i] < to) out[int64_t(i)] = target[0];
  return out;
}

pathways::VideoTokens planted_video(const torch::Tensor& target, double from, double to) {
  pathways::VideoTokens v;
  v.duration_seconds = 20;
  for (int i = 0; i < 20; ++i) v.slow_pts_seconds.push_back(i);
  for (int i = 0; i < 80; ++i) v.fast_pts_seconds.push_back(i * 0.25);
  v.slow_embeds = planted(target, v.slow_pts_seconds, from, to);
  v.fast_embeds = planted(target, v.fast_pts_seconds, from, to);
  v.slow = torch::zeros({20, 1, 1, 64});
  v.fast = torch::zeros({80, 1, 1, 64});
  return v;
}

TEST(TrainingFreeHead, FindsThePlantedMoment) {
  TrainingFreeHead head(tiny());
  const std::string query = "a red square moves left";
  auto video = planted_video(tiny()->text_embeds({query}), 6.0, 10.0);
  GroundingResult g = head.ground(video, query);
  ASSERT_EQ(g.saliency.size(), 10u);
  EXPECT_NEAR(g.saliency[3], 1.0, 1e-5);
  EXPECT_NEAR(g.saliency[4], 1.0, 1e-5);
  EXPECT_NEAR(g.saliency[0], 0.0, 1e-5);
  ASSERT_FALSE(g.moments.empty());
  EXPECT_DOUBLE_EQ(g.moments[0].start_seconds, 6.0);
  EXPECT_DOUBLE_EQ(g.moments[0].end_seconds, 10.0);
  EXPECT_DOUBLE_EQ(g.clip_seconds, 2.0);
}

TEST(TrainingFreeHead, SlowWeightMixesThePathways) {
  TrainingFreeOptions o;
  o.slow_weight = 1.0;  // only the slow pathway: plant the moment there only
  TrainingFreeHead head(tiny(), o);
  auto q = tiny()->text_embeds({"q"});
  auto video = planted_video(q, 6.0, 10.0);
  video.fast_embeds = planted(q, video.fast_pts_seconds, 14.0, 16.0);
  EXPECT_EQ(head.ground(video, "q").moments[0].start_seconds, 6.0);
  o.slow_weight = 0.0;
  EXPECT_EQ(TrainingFreeHead(tiny(), o).ground(video, "q").moments[0].start_seconds, 14.0);
}

TEST(TrainingFreeHead, AnswersWithTheOptionThatShows) {
  TrainingFreeHead head(tiny());
  const std::string question = "what moves?";
  const std::vector<std::string> options = {"a red square", "a blue circle", "a green triangle"};
  auto video = planted_video(tiny()->text_embeds({question + " " + options[2]}), 12.0, 14.0);
  QaResult r = head.answer(video, question, options);
  EXPECT_EQ(r.answer_index, 2);
  ASSERT_EQ(r.probabilities.size(), 3u);
  double sum = 0;
  for (float p : r.probabilities) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_GT(r.probabilities[2], r.probabilities[0]);
  EXPECT_GT(r.probabilities[2], r.probabilities[1]);
  EXPECT_THROW(head.answer(video, question, {"only one"}), UsageError);
}

TEST(TrainingFreeHead, EmptyVideoIsAFormatError) {
  TrainingFreeHead head(tiny());
  pathways::VideoTokens empty;
  empty.duration_seconds = 4;
  empty.slow_embeds = torch::zeros({0, 32});
  empty.fast_embeds = torch::zeros({0, 32});
  EXPECT_THROW(head.ground(empty, "q"), FormatError);
}

TEST(VideoPipeline, GroundsARealVideoAndCachesItsTokens) {
  PipelineOptions o;
  o.cache_dir = test::scratch_dir("pipeline_cache");
  auto pipeline = VideoPipeline::load(test::fixture("clip_tiny"), o);
  auto s1 = pipeline->open(test::video("nasa_13013.mp4"));
  EXPECT_FALSE(s1->from_cache);
  EXPECT_NE(s1->plan.find("tokens"), std::string::npos);
  GroundingResult g = s1->ground("a rocket launch");
  EXPECT_EQ(g.saliency.size(), 7u);  // ceil(13.013 / 2)
  EXPECT_DOUBLE_EQ(g.duration_seconds, 13.013);
  ASSERT_FALSE(g.moments.empty());
  for (const auto& m : g.moments) {
    EXPECT_GE(m.start_seconds, 0.0);
    EXPECT_LE(m.end_seconds, 13.013 + 1e-9);
    EXPECT_LT(m.start_seconds, m.end_seconds);
  }
  for (size_t i = 1; i < g.moments.size(); ++i) EXPECT_GE(g.moments[i - 1].score, g.moments[i].score);
  auto s2 = pipeline->open(test::video("nasa_13013.mp4"));
  EXPECT_TRUE(s2->from_cache);
  GroundingResult g2 = s2->ground("a rocket launch");
  EXPECT_EQ(g2.saliency, g.saliency);
  QaResult a = s2->answer("", {"a rocket", "a cat"});
  EXPECT_EQ(a.probabilities.size(), 2u);
}

TEST(VideoPipeline, MissingVideoNamesTheFile) {
  auto pipeline = VideoPipeline::load(test::fixture("clip_tiny"), PipelineOptions{});
  test::expect_error<IoError>([&] { pipeline->open("/no/such/clip.mp4"); }, {"/no/such/clip.mp4"});
}

}  // namespace
}  // namespace sfvu::grounding
