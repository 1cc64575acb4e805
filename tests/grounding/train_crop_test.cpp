// Note [Training crops]: a crop keeps the frames inside its span with their absolute
// timestamps, only the queries wholly inside, and no multiple-choice question unless it is
// grounded (Note [Grounded QA]: then its options are grounding queries too).
#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/grounding/learned_model.h"
#include "sfvu/grounding/train_data.h"

namespace sfvu::grounding {
namespace {

TrainVideo ten_second_video() {
  TrainVideo v;
  v.vid = "v";
  v.duration_seconds = 10;
  for (int i = 0; i < 10; ++i) v.slow_seconds.push_back(i + 0.5);
  for (int i = 0; i < 40; ++i) v.fast_seconds.push_back(i * 0.25 + 0.125);
  // Each frame's pixels hold its index, so the test can see which frames were kept.
  v.slow_frames = torch::arange(10, torch::kUInt8).reshape({10, 1, 1, 1}).expand({10, 2, 2, 3}).contiguous();
  v.fast_frames = torch::arange(40, torch::kUInt8).reshape({40, 1, 1, 1}).expand({40, 2, 2, 3}).contiguous();
  v.queries = {{1, "inside", "motion", {{3.0, 5.0}}, {}},
               {2, "straddles", "detail", {{5.5, 8.0}}, {}},
               {3, "two windows, one outside", "short", {{2.5, 3.0}, {8.5, 9.0}}, {}},
               {4, "at the edges", "short", {{2.0, 6.0}}, {}}};
  v.qa = {{"q", "which way?", "motion", {"left", "right"}, 0, {}, true}};
  return v;
}

TEST(TrainingCrop, KeepsTheFramesAndQueriesInsideTheSpan) {
  TrainVideo c = crop_for_training(ten_second_video(), 2.0, 4.0);  // [2, 6)
  EXPECT_EQ(c.vid, "v");
  EXPECT_EQ(c.duration_seconds, 10);
  EXPECT_EQ(c.slow_seconds, (std::vector<double>{2.5, 3.5, 4.5, 5.5}));
  ASSERT_EQ(c.slow_frames.size(0), 4);
  EXPECT_EQ(c.slow_frames[0][0][0][0].item<int>(), 2);
  EXPECT_EQ(c.slow_frames[3][1][1][2].item<int>(), 5);
  ASSERT_EQ(c.fast_frames.size(0), 16);
  EXPECT_DOUBLE_EQ(c.fast_seconds.front(), 2.125);
  EXPECT_DOUBLE_EQ(c.fast_seconds.back(), 5.875);
  EXPECT_EQ(c.fast_frames[0][0][0][0].item<int>(), 8);
  ASSERT_EQ(c.queries.size(), 2u);
  EXPECT_EQ(c.queries[0].qid, 1);
  EXPECT_EQ(c.queries[1].qid, 4);
  EXPECT_DOUBLE_EQ(c.queries[0].windows[0].start_seconds, 3.0);  // absolute, not shifted
  EXPECT_TRUE(c.qa.empty());
}

TEST(TrainingCrop, WithNegativesKeepsTheQueriesWhollyOutsideWithoutWindows) {
  TrainVideo v = ten_second_video();
  v.queries.push_back({5, "elsewhere", "motion", {{7.0, 9.0}}, {}});
  TrainVideo c = crop_for_training(v, 2.0, 4.0, /*negatives=*/true);  // [2, 6)
  std::vector<int64_t> qids;
  for (const auto& q : c.queries) qids.push_back(q.qid);
  // 2 straddles the span's end: its label inside the crop would be half true. Dropped.
  EXPECT_EQ(qids, (std::vector<int64_t>{1, 3, 4, 5}));
  ASSERT_EQ(c.queries[1].windows.size(), 1u);  // its window inside the span, not the one outside
  EXPECT_DOUBLE_EQ(c.queries[1].windows[0].start_seconds, 2.5);
  EXPECT_TRUE(c.queries[3].windows.empty());  // not in this crop: every step negative
  EXPECT_EQ(c.queries[0].windows.size(), 1u);
}

TEST(TrainingCrop, KeepsGroundedQuestionsInsideAndWithNegativesOutside) {
  TrainVideo v = ten_second_video();
  v.qa = {{"ungrounded", "which way?", "motion", {"left", "right"}, 0, {}, true},
          {"inside", "which colour?", "detail", {"red", "green"}, 1, {{2.5, 4.0}}, true},
          {"outside", "which way now?", "motion", {"up", "down"}, 0, {{7.0, 9.0}}, true},
          {"straddles", "which shape?", "detail", {"square", "circle"}, 1, {{5.0, 7.0}}, true}};
  TrainVideo c = crop_for_training(v, 2.0, 4.0);  // [2, 6)
  ASSERT_EQ(c.qa.size(), 1u);
  EXPECT_EQ(c.qa[0].qid, "inside");
  EXPECT_TRUE(c.qa[0].answerable);
  ASSERT_EQ(c.qa[0].windows.size(), 1u);
  EXPECT_DOUBLE_EQ(c.qa[0].windows[0].end_seconds, 4.0);

  c = crop_for_training(v, 2.0, 4.0, /*negatives=*/true);
  ASSERT_EQ(c.qa.size(), 2u);
  EXPECT_EQ(c.qa[1].qid, "outside");
  EXPECT_FALSE(c.qa[1].answerable);  // the crop cannot answer it: its options are all "not here"
  EXPECT_TRUE(c.qa[1].windows.empty());
}

TEST(GroundedQa, EachOptionOfAGroundedQuestionIsAGroundingQuery) {
  TrainVideo v = ten_second_video();
  v.queries.resize(1);
  v.qa = {{"ungrounded", "which way?", "motion", {"left", "right"}, 0, {}, true},
          {"grounded", "which colour?", "detail", {"red", "green", "blue"}, 1, {{2.5, 4.0}}, true},
          {"missed", "which way now?", "motion", {"up", "down"}, 0, {}, false}};
  GroundingTexts g = grounding_texts(v, /*with_options=*/true);
  EXPECT_EQ(g.texts, (std::vector<std::string>{"inside", "which colour? red", "which colour? green",
                                               "which colour? blue", "which way now? up", "which way now? down"}));
  ASSERT_EQ(g.windows.size(), g.texts.size());
  EXPECT_EQ(g.windows[0].size(), 1u);
  EXPECT_TRUE(g.windows[1].empty());
  ASSERT_EQ(g.windows[2].size(), 1u);  // the answer: the question's window
  EXPECT_DOUBLE_EQ(g.windows[2][0].start_seconds, 2.5);
  EXPECT_TRUE(g.windows[3].empty());
  EXPECT_TRUE(g.windows[4].empty() && g.windows[5].empty());  // missed by the crop: "not here"
  g = grounding_texts(v, /*with_options=*/false);
  EXPECT_EQ(g.texts, (std::vector<std::string>{"inside"}));
}

TEST(TrainingCrop, RefusesWhatCannotBeCropped) {
  TrainVideo v = ten_second_video();
  EXPECT_THROW(crop_for_training(v, 0, 0), UsageError);
  v.features = std::make_shared<VideoFeatures>();
  EXPECT_THROW(crop_for_training(v, 0, 4), UsageError);
  TrainVideo empty;
  EXPECT_THROW(crop_for_training(empty, 0, 4), UsageError);
}

}  // namespace
}  // namespace sfvu::grounding
