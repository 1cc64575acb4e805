// The `sfvu stream` view (apps/src/stream_view.h): layout and pixels of the rendered picture
// (video area, active labels, sparklines with the threshold, reconnect banner), history
// bounds, and the snapshot file.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "sfvu/base/error.h"
#include "stream_view.h"
#include "support/test_support.h"

namespace sfvu::cli {
namespace {

constexpr int kHeader = 40, kRow = 74;

// Orange (BGR 20, 95, 235) blended over white or black: red high, blue low.
bool orange(const cv::Vec3b& p) { return p[2] > 180 && p[0] < 120 && p[2] > p[1] + 60; }
bool blue(const cv::Vec3b& p) { return p[0] > 120 && p[2] < 110; }
// Orange lines and the active shading (orange at 25% over white).
bool warm(const cv::Vec3b& p) { return p[2] > 200 && p[2] - p[0] > 40; }

int count_if(const cv::Mat& img, cv::Rect r, bool (*pred)(const cv::Vec3b&)) {
  int n = 0;
  for (int y = r.y; y < r.y + r.height; ++y)
    for (int x = r.x; x < r.x + r.width; ++x) n += pred(img.at<cv::Vec3b>(y, x));
  return n;
}

ViewState state_with_frame() {
  ViewState s;
  s.source = "tcp://127.0.0.1:5000";
  s.frame_width = 96, s.frame_height = 54;  // 16:9, scaled x10 into the video area
  s.frame_rgb.assign(size_t(96 * 54 * 3), 0);
  for (size_t i = 0; i < s.frame_rgb.size(); i += 3) s.frame_rgb[i + 1] = 200;  // green
  s.pts_seconds = 12.5, s.latency_ms = 42, s.dropped = 3;
  return s;
}

TEST(StreamView, LaysOutVideoAndOneRowPerQuery) {
  ViewState s = state_with_frame();
  s.queries.push_back({"a dog runs", 0.5, 0.05, {}, {}});
  s.queries.push_back({"a cat sleeps", 0.5, 0.05, {}, {}});
  cv::Mat img = render_stream_view(s);
  EXPECT_EQ(img.type(), CV_8UC3);
  EXPECT_EQ(img.cols, kViewWidth);
  EXPECT_EQ(img.rows, kHeader + kVideoHeight + 2 * kRow + 6);
  const cv::Vec3b centre = img.at<cv::Vec3b>(kHeader + kVideoHeight / 2, kVideoWidth / 2);
  EXPECT_EQ(centre, cv::Vec3b(0, 200, 0)) << "the frame fills the video area (BGR)";
  // Nothing active: no label over the video, no shading under the threshold lines.
  EXPECT_EQ(count_if(img, {0, kHeader + kVideoHeight - 60, 400, 60}, orange), 0);
  EXPECT_EQ(count_if(img, {0, kHeader + kVideoHeight + 46, kViewWidth, 14}, warm), 0);
}

TEST(StreamView, NoFrameYetIsABlackAreaNotACrash) {
  ViewState s;
  s.queries.push_back({"q", 0.5, 0.05, {}, {}});
  s.frame_width = 10, s.frame_height = 10;  // too few bytes: ignored
  cv::Mat img = render_stream_view(s);
  EXPECT_EQ(img.at<cv::Vec3b>(kHeader + 5, 5), cv::Vec3b(0, 0, 0));
}

TEST(StreamView, ActiveQueryGetsALabelAndShadedSparkline) {
  StreamView view("cam", {"a dog runs", "a cat sleeps"}, {0.5, 0.5}, 0.05, false);
  std::vector<uint8_t> grey(size_t(64 * 36 * 3), 60);
  view.set_frame(64, 36, grey.data());
  for (int i = 0; i < 30; ++i) {
    const float s0 = i < 15 ? 0.2f : 0.8f;  // query 0 becomes active half-way
    view.add_update(i * 0.5, 40, 0, {s0, 0.1f}, {s0 >= 0.5f, false});
  }
  cv::Mat img = render_stream_view(view.state());
  // The label sits in the lower-left corner of the video.
  EXPECT_GT(count_if(img, {0, kHeader + kVideoHeight - 60, 400, 60}, orange), 500);
  // Query 0's row: shaded active updates on the right of its sparkline, none on the left.
  const int row0 = kHeader + kVideoHeight, row1 = row0 + kRow;
  // (The band below the threshold lines, rows 46-60 of a row: only shading is warm there.)
  EXPECT_GT(count_if(img, {kViewWidth - 70, row0 + 46, 50, 14}, warm), 500);
  EXPECT_EQ(count_if(img, {300, row0 + 46, 300, 14}, warm), 0) << "inactive updates are not shaded";
  EXPECT_GT(count_if(img, {kViewWidth - 200, row0 + 8, 190, kRow - 16}, blue), 20) << "the score curve is drawn";
  // Query 1 never active: no shading, only its thin threshold lines.
  EXPECT_EQ(count_if(img, {kViewWidth - 70, row1 + 46, 50, 14}, warm), 0);
  EXPECT_EQ(view.state().queries[0].scores.size(), 30u);
}

TEST(StreamView, HistoryIsBounded) {
  StreamView view("cam", {"q"}, {0.5}, 0.05, false);
  for (size_t i = 0; i < kHistory + 50; ++i) view.add_update(double(i), 1, 0, {0.3f}, {false});
  EXPECT_EQ(view.state().queries[0].scores.size(), kHistory);
  EXPECT_EQ(view.state().queries[0].active.size(), kHistory);
  EXPECT_TRUE(view.show());  // no window: nothing to do
}

TEST(StreamView, ReconnectBannerIsRed) {
  ViewState s = state_with_frame();
  s.status = "source lost: reconnecting (attempt 2)";
  cv::Mat img = render_stream_view(s);
  const cv::Vec3b p = img.at<cv::Vec3b>(kHeader + 3, kVideoWidth - 5);
  EXPECT_GT(p[2], 150);
  EXPECT_LT(p[1], 80);
}

TEST(StreamView, SnapshotWritesAPngOrNamesTheFile) {
  const std::string dir = test::scratch_dir("stream_view");
  StreamView view("cam", {"q"}, {0.25}, 0.05, false);
  view.add_update(1.0, 10, 0, {0.3f}, {true});
  view.write_snapshot(dir + "/v.png");
  cv::Mat back = cv::imread(dir + "/v.png");
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(back.cols, kViewWidth);
  test::expect_error<IoError>([&] { view.write_snapshot(dir + "/no/such/dir/v.png"); }, {dir + "/no/such/dir/v.png"});
}

}  // namespace
}  // namespace sfvu::cli
