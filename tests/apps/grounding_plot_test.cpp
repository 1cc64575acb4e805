// render_grounding_plot / write_grounding_plot: the layout contract (size, where the top-1
// band and the thumbnails land) and degenerate inputs. Pixels are classified by colour, so the
// tests hold across small drawing changes but fail when a band or a thumbnail moves or vanishes.
#include "grounding_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "plot_thumbnails.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

namespace layout = plot;  // the page layout constants the tests locate things with

struct Rgb {
  int r, g, b;
};

Rgb pixel(const RenderedImage& img, int x, int y) {
  const size_t i = (size_t(y) * size_t(img.width) + size_t(x)) * 3;
  return {img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]};
}

// The top-1 band is orange (RGB 235,95,20) blended over a white/pale-blue plot; nothing else
// inside the plot area is much redder than it is blue.
bool orange_tinted(Rgb p) { return p.r - p.b > 40; }

bool strongly_red(Rgb p) { return p.r > 200 && p.g < 60 && p.b < 60; }

bool strongly_green(Rgb p) { return p.g > 200 && p.r < 60 && p.b < 60; }

// Columns of the plot area where most rows are orange-tinted (the top-1 band).
std::vector<int> band_columns(const RenderedImage& img) {
  std::vector<int> cols;
  const int top = layout::kPlotTop + 3, bottom = layout::kPlotTop + layout::kPlotHeight - 3;
  for (int x = layout::kPlotLeft + 1; x < layout::kWidth - layout::kPlotRight; ++x) {
    int n = 0;
    for (int y = top; y < bottom; ++y) n += orange_tinted(pixel(img, x, y));
    if (n * 2 > bottom - top) cols.push_back(x);
  }
  return cols;
}

// Expected x of time `t` on an axis of `seconds`, from the documented layout.
int expected_x(double t, double seconds) {
  return layout::kPlotLeft + int(std::lround(t / seconds * layout::plot_width()));
}

int count_in_rows(const RenderedImage& img, int y0, int y1, bool (*pred)(Rgb)) {
  int n = 0;
  for (int y = std::max(0, y0); y < std::min(img.height, y1); ++y)
    for (int x = 0; x < img.width; ++x) n += pred(pixel(img, x, y));
  return n;
}

int strip_top() { return layout::kPlotTop + layout::kPlotHeight + layout::kAxisBand; }

PlotThumbnail solid_thumbnail(double pts_seconds, uint8_t r, uint8_t g, uint8_t b, int w = 64,
                              int h = 36) {
  PlotThumbnail t;
  t.pts_seconds = pts_seconds, t.width = w, t.height = h;
  for (int i = 0; i < w * h; ++i) t.rgb.insert(t.rgb.end(), {r, g, b});
  return t;
}

GroundingPlot one_minute(double moment_start, double moment_end) {
  GroundingPlot p;
  p.video = "/videos/kitchen.mp4";
  p.query = "a person opens the fridge";
  p.duration_seconds = 60, p.clip_seconds = 2;
  for (int i = 0; i < 30; ++i) p.saliency.push_back(float(0.5 + 0.4 * std::sin(i * 0.4)));
  p.moments = {{moment_start, moment_end, 0.83}, {44, 50, 0.41}};
  return p;
}

void expect_sane(const RenderedImage& img) {
  EXPECT_EQ(img.width, 1280);
  EXPECT_GT(img.height, layout::kPlotTop + layout::kPlotHeight);
  EXPECT_LT(img.height, 800);
  EXPECT_EQ(img.rgb.size(), size_t(img.width) * size_t(img.height) * 3);
}

TEST(GroundingPlot, SizeIsAbout1280WideAndTallEnoughForThePlot) {
  const RenderedImage img = render_grounding_plot(one_minute(10, 20));
  expect_sane(img);
  // Without thumbnails the page ends just under the axis band.
  EXPECT_EQ(img.height, strip_top() + layout::kBottomMargin);
}

TEST(GroundingPlot, Top1BandCoversTheMomentsSpanAndNothingElse) {
  const RenderedImage img = render_grounding_plot(one_minute(10, 20));
  const int x0 = expected_x(10, 60), x1 = expected_x(20, 60);
  const std::vector<int> cols = band_columns(img);
  ASSERT_FALSE(cols.empty());
  EXPECT_NEAR(cols.front(), x0, 3);
  EXPECT_NEAR(cols.back(), x1, 3);
  // Solid inside: every column between the edges is tinted.
  EXPECT_GE(int(cols.size()), x1 - x0 - 6);
  for (int x : cols) {
    EXPECT_GE(x, x0 - 3);
    EXPECT_LE(x, x1 + 3);
  }
}

TEST(GroundingPlot, MovingTheMomentMovesTheBand) {
  const RenderedImage img = render_grounding_plot(one_minute(30, 40));
  const std::vector<int> cols = band_columns(img);
  ASSERT_FALSE(cols.empty());
  EXPECT_NEAR(cols.front(), expected_x(30, 60), 3);
  EXPECT_NEAR(cols.back(), expected_x(40, 60), 3);
  for (int x : cols) EXPECT_GT(x, expected_x(20, 60) + 3) << "band left behind at the old span";
}

TEST(GroundingPlot, OnlyTheTop1MomentIsOrange) {
  GroundingPlot p = one_minute(10, 20);
  p.moments = {{44, 50, 0.41}};  // now the only, hence top-1, moment
  const std::vector<int> cols = band_columns(render_grounding_plot(p));
  ASSERT_FALSE(cols.empty());
  EXPECT_NEAR(cols.front(), expected_x(44, 60), 3);
  p.moments.clear();
  EXPECT_TRUE(band_columns(render_grounding_plot(p)).empty());
}

TEST(GroundingPlot, ThumbnailPixelsAppearInTheStrip) {
  GroundingPlot p = one_minute(10, 20);
  p.thumbnails = {solid_thumbnail(30, 255, 0, 0)};
  const RenderedImage red = render_grounding_plot(p);
  expect_sane(red);
  EXPECT_GT(red.height, strip_top() + layout::kBottomMargin);  // the strip adds height
  const int cell = layout::kThumbMinHeight * layout::kThumbMinHeight;  // a smallish cell's area
  EXPECT_GT(count_in_rows(red, strip_top(), red.height, strongly_red), cell);
  EXPECT_EQ(count_in_rows(red, 0, strip_top(), strongly_red), 0);  // not above the strip

  p.thumbnails = {solid_thumbnail(30, 0, 255, 0)};
  const RenderedImage green = render_grounding_plot(p);
  EXPECT_EQ(green.height, red.height);
  EXPECT_EQ(count_in_rows(green, 0, green.height, strongly_red), 0);
  EXPECT_GT(count_in_rows(green, strip_top(), green.height, strongly_green), cell);
}

TEST(GroundingPlot, ThumbnailSitsUnderItsTime) {
  GroundingPlot p = one_minute(10, 20);
  for (double t : {6.0, 54.0}) {
    p.thumbnails = {solid_thumbnail(t, 255, 0, 0)};
    const RenderedImage img = render_grounding_plot(p);
    long sum_x = 0, n = 0;
    for (int y = strip_top(); y < img.height; ++y)
      for (int x = 0; x < img.width; ++x)
        if (strongly_red(pixel(img, x, y))) sum_x += x, ++n;
    ASSERT_GT(n, 0);
    EXPECT_NEAR(double(sum_x) / n, expected_x(t, 60), 6) << "thumbnail at " << t << " s";
  }
}

TEST(GroundingPlot, ManyThumbnailsStillFitOnTheRow) {
  GroundingPlot p = one_minute(10, 20);
  for (int i = 0; i < 200; ++i) p.thumbnails.push_back(solid_thumbnail(i * 0.3, 255, 0, 0));
  const RenderedImage img = render_grounding_plot(p);
  expect_sane(img);
  EXPECT_GT(count_in_rows(img, strip_top(), img.height, strongly_red), 0);
}

TEST(GroundingPlot, UnusableThumbnailsAreSkipped) {
  GroundingPlot p = one_minute(10, 20);
  PlotThumbnail short_pixels = solid_thumbnail(5, 255, 0, 0);
  short_pixels.rgb.resize(10);
  PlotThumbnail no_time = solid_thumbnail(NAN, 255, 0, 0);
  PlotThumbnail empty;
  p.thumbnails = {short_pixels, no_time, empty};
  const RenderedImage img = render_grounding_plot(p);
  EXPECT_EQ(img.height, strip_top() + layout::kBottomMargin);
  EXPECT_EQ(count_in_rows(img, 0, img.height, strongly_red), 0);
}

TEST(GroundingPlot, DegenerateInputsDrawSanePictures) {
  GroundingPlot empty_saliency = one_minute(10, 20);
  empty_saliency.saliency.clear();
  expect_sane(render_grounding_plot(empty_saliency));

  GroundingPlot no_moments = one_minute(10, 20);
  no_moments.moments.clear();
  expect_sane(render_grounding_plot(no_moments));

  GroundingPlot nothing;  // no video name, query, duration, saliency, moments or thumbnails
  expect_sane(render_grounding_plot(nothing));

  GroundingPlot odd = one_minute(-30, 500);  // a moment beyond the video is clamped
  odd.saliency[3] = NAN, odd.saliency[4] = INFINITY;
  odd.moments.push_back({NAN, 3, 0.2});
  odd.clip_seconds = 0;
  expect_sane(render_grounding_plot(odd));
  const std::vector<int> cols = band_columns(render_grounding_plot(odd));
  ASSERT_FALSE(cols.empty());
  EXPECT_NEAR(cols.front(), layout::kPlotLeft, 3);
  EXPECT_NEAR(cols.back(), layout::kWidth - layout::kPlotRight, 3);
}

TEST(GroundingPlot, FlatCurveIsOneLevelLine) {
  GroundingPlot p = one_minute(10, 20);
  p.moments.clear();
  p.saliency.assign(30, 0.7f);
  const RenderedImage img = render_grounding_plot(p);
  expect_sane(img);
  // The curve's dark blue (RGB 25,85,170) inside the plot area spans many columns, few rows.
  int y_min = img.height, y_max = -1, n = 0;
  for (int y = layout::kPlotTop + 1; y < layout::kPlotTop + layout::kPlotHeight; ++y)
    for (int x = layout::kPlotLeft + 1; x < layout::kWidth - layout::kPlotRight; ++x) {
      const Rgb c = pixel(img, x, y);
      if (std::abs(c.r - 25) < 30 && std::abs(c.g - 85) < 30 && std::abs(c.b - 170) < 30)
        y_min = std::min(y_min, y), y_max = std::max(y_max, y), ++n;
    }
  ASSERT_GT(n, layout::plot_width() / 2);
  EXPECT_LE(y_max - y_min, 10);
}

TEST(GroundingPlot, OneHourOf1800Clips) {
  GroundingPlot p;
  p.video = "long.mkv";
  p.query = "the goal";
  p.duration_seconds = 3600, p.clip_seconds = 2;
  for (int i = 0; i < 1800; ++i)
    p.saliency.push_back(float(std::sin(i * 0.01) + 0.2 * std::cos(i * 1.7)));
  p.moments = {{1800, 1920, 0.9}, {10, 12, 0.3}};
  p.thumbnails = {solid_thumbnail(1850, 255, 0, 0, 320, 180)};
  const RenderedImage img = render_grounding_plot(p);
  expect_sane(img);
  const std::vector<int> cols = band_columns(img);
  ASSERT_FALSE(cols.empty());
  EXPECT_NEAR(cols.front(), expected_x(1800, 3600), 3);
  EXPECT_NEAR(cols.back(), expected_x(1920, 3600), 3);
}

TEST(GroundingPlot, NonAsciiQueryIsDrawnWithQuestionMarks) {
  GroundingPlot p = one_minute(10, 20);
  p.query = "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC";  // "café 日本"
  const RenderedImage utf8 = render_grounding_plot(p);
  expect_sane(utf8);
  p.query = "caf? ??";  // one '?' per UTF-8 sequence
  const RenderedImage ascii = render_grounding_plot(p);
  EXPECT_EQ(utf8.rgb, ascii.rgb);
  p.query = "cafe ab";
  EXPECT_NE(render_grounding_plot(p).rgb, utf8.rgb);
}

TEST(GroundingPlot, WritesAPngOfTheRenderedImage) {
  const GroundingPlot p = one_minute(10, 20);
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "grounding_plot_test.png").string();
  write_grounding_plot(path, p);
  const cv::Mat back = cv::imread(path, cv::IMREAD_COLOR);
  std::filesystem::remove(path);
  ASSERT_FALSE(back.empty());
  const RenderedImage img = render_grounding_plot(p);
  EXPECT_EQ(back.cols, img.width);
  EXPECT_EQ(back.rows, img.height);
  const cv::Vec3b bgr = back.at<cv::Vec3b>(layout::kPlotTop + 100, expected_x(15, 60));
  const Rgb rgb = pixel(img, expected_x(15, 60), layout::kPlotTop + 100);
  EXPECT_EQ(int(bgr[2]), rgb.r);
  EXPECT_EQ(int(bgr[1]), rgb.g);
  EXPECT_EQ(int(bgr[0]), rgb.b);
}

TEST(GroundingPlot, UnwritablePathThrowsIoErrorNamingIt) {
  const std::string path = "/nonexistent-dir/x.png";
  try {
    write_grounding_plot(path, one_minute(10, 20));
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(GroundingPlot, UnknownExtensionThrowsIoErrorNamingIt) {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "grounding_plot_test.notanimage").string();
  try {
    write_grounding_plot(path, one_minute(10, 20));
    FAIL() << "no exception";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sfvu::cli
