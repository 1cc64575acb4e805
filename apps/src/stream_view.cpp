#include "stream_view.h"

#include <algorithm>
#include <cstdio>
#include <opencv2/highgui.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "plot_thumbnails.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

using namespace plot;  // inks, font and text helpers shared with the grounding plot

constexpr int kHeaderHeight = 40;
constexpr int kRowHeight = 74;
constexpr int kLabelColumn = 270;  // query text and numbers; the sparkline takes the rest
constexpr int kMargin = 14;

// Inks of the grounding plot (BGR) so both pictures read the same.
const cv::Scalar kCurve(170, 85, 25);       // dark blue: the score
const cv::Scalar kActive(20, 95, 235);      // strong orange: active queries, threshold
const cv::Scalar kBanner(40, 40, 200);      // red: reconnecting
const cv::Scalar kPanel(248, 248, 248);

std::string number(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

void draw_header(cv::Mat& img, const ViewState& s) {
  cv::rectangle(img, {0, 0, img.cols, kHeaderHeight}, kPanel, cv::FILLED);
  cv::line(img, {0, kHeaderHeight - 1}, {img.cols, kHeaderHeight - 1}, kGrid, 1);
  const std::string right = "t " + number(s.pts_seconds, "%.1f") + " s   latency " + number(s.latency_ms, "%.0f") +
                            " ms   dropped " + std::to_string(s.dropped);
  const int right_w = text_width(right, 0.5);
  text(img, right, {img.cols - kMargin - right_w, 26}, 0.5, kInk);
  const std::string title = "sfvu stream  " + ascii_only(s.source);
  text(img, fit_text(title, img.cols - right_w - 3 * kMargin, 0.55), {kMargin, 26}, 0.55, kInk);
}

// The frame letterboxed into the video area (the decoder already sends it at that size).
void draw_video(cv::Mat& img, const ViewState& s) {
  const cv::Rect area(0, kHeaderHeight, kVideoWidth, kVideoHeight);
  cv::Mat dst = img(area);
  dst.setTo(cv::Scalar(0, 0, 0));
  const size_t need = size_t(std::max(0, s.frame_width)) * size_t(std::max(0, s.frame_height)) * 3;
  if (s.frame_width <= 0 || s.frame_height <= 0 || s.frame_rgb.size() < need) {
    const std::string msg = "waiting for video";
    text(img, msg, {(kVideoWidth - text_width(msg, 0.8)) / 2, kHeaderHeight + kVideoHeight / 2}, 0.8,
         cv::Scalar(200, 200, 200));
    return;
  }
  cv::Mat rgb(s.frame_height, s.frame_width, CV_8UC3, const_cast<uint8_t*>(s.frame_rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  const double scale = std::min(double(kVideoWidth) / s.frame_width, double(kVideoHeight) / s.frame_height);
  const int w = std::max(1, int(s.frame_width * scale)), h = std::max(1, int(s.frame_height * scale));
  cv::Mat scaled;
  // Tiny pathway-sized frames stay crisp blocks instead of a blur.
  cv::resize(bgr, scaled, {w, h}, 0, 0, scale >= 4 ? cv::INTER_NEAREST : cv::INTER_LINEAR);
  scaled.copyTo(dst(cv::Rect((kVideoWidth - w) / 2, (kVideoHeight - h) / 2, w, h)));
}

// Active queries as orange tags stacked from the video's lower-left corner upwards.
void draw_labels(cv::Mat& img, const ViewState& s) {
  int y = kHeaderHeight + kVideoHeight - kMargin;
  for (const ViewQuery& q : s.queries) {
    if (q.active.empty() || !q.active.back()) continue;
    const std::string label = fit_text(ascii_only(q.text), kVideoWidth / 2, 0.65, 2);
    const int w = text_width(label, 0.65, 2);
    const cv::Rect box(kMargin, y - 30, w + 20, 30);
    blend_rect(img, box, kActive, 0.85);
    text(img, label, {box.x + 10, box.y + 21}, 0.65, kWhite, 2);
    y -= 38;
  }
  if (!s.status.empty()) {
    const cv::Rect banner(0, kHeaderHeight, kVideoWidth, 34);
    blend_rect(img, banner, kBanner, 0.85);
    text(img, fit_text(ascii_only(s.status), kVideoWidth - 2 * kMargin, 0.6), {kMargin, kHeaderHeight + 23}, 0.6,
         kWhite);
  }
}

void dotted_line(cv::Mat& img, cv::Point a, cv::Point b, const cv::Scalar& color) {
  for (int x = a.x; x < b.x; x += 8) cv::line(img, {x, a.y}, {std::min(x + 3, b.x), b.y}, color, 1);
}

void draw_row(cv::Mat& img, const ViewQuery& q, int top) {
  const bool active = !q.active.empty() && q.active.back();
  cv::line(img, {0, top}, {img.cols, top}, kGrid, 1);
  // Left: text, score and threshold.
  if (active) cv::rectangle(img, {0, top + 1, 5, kRowHeight - 1}, kActive, cv::FILLED);
  text(img, fit_text("\"" + ascii_only(q.text) + "\"", kLabelColumn - 2 * kMargin, 0.5), {kMargin, top + 26}, 0.5,
       kInk);
  const float last = q.scores.empty() ? NAN : q.scores.back();
  text(img, number(last, "%.3f"), {kMargin, top + 56}, 0.7, active ? kActive : kCurve, 2);
  text(img, "thr " + number(q.threshold, "%.3g") + (active ? "  ACTIVE" : ""), {kMargin + 86, top + 55}, 0.45,
       active ? kActive : kMuted);
  // Right: the sparkline, newest on the right, a fixed slot per update.
  const cv::Rect plot(kLabelColumn, top + 8, img.cols - kLabelColumn - kMargin, kRowHeight - 16);
  cv::rectangle(img, plot, kGrid, 1);
  double lo = q.threshold - q.hysteresis, hi = q.threshold;
  for (float v : q.scores)
    if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  const double pad = std::max(0.1 * (hi - lo), 1e-3);
  lo -= pad, hi += pad;
  auto y_of = [&](double v) { return plot.y + plot.height - int(std::lround((v - lo) / (hi - lo) * plot.height)); };
  const double slot = double(plot.width) / double(kHistory - 1);
  const size_t n = q.scores.size();
  auto x_of = [&](size_t i) { return plot.x + plot.width - int(std::lround(double(n - 1 - i) * slot)); };
  for (size_t i = 0; i < n; ++i) {
    if (!q.active[i]) continue;
    const int x0 = i > 0 ? x_of(i - 1) : x_of(i);
    blend_rect(img, cv::Rect(x0, plot.y, std::max(2, x_of(i) - x0), plot.height), kActive, 0.25);
  }
  cv::line(img, {plot.x, y_of(q.threshold)}, {plot.x + plot.width, y_of(q.threshold)}, kActive, 1, cv::LINE_AA);
  if (q.hysteresis > 0)
    dotted_line(img, {plot.x, y_of(q.threshold - q.hysteresis)}, {plot.x + plot.width, y_of(q.threshold - q.hysteresis)},
                kActive);
  std::vector<cv::Point> run;
  auto flush = [&] {
    if (run.size() > 1) cv::polylines(img, run, false, kCurve, 2, cv::LINE_AA);
    if (run.size() == 1) cv::circle(img, run[0], 2, kCurve, cv::FILLED, cv::LINE_AA);
    run.clear();
  };
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(q.scores[i])) {
      flush();
      continue;
    }
    run.push_back({x_of(i), y_of(q.scores[i])});
  }
  flush();
  if (n == 0) text(img, "no update yet", {plot.x + 10, plot.y + plot.height / 2 + 5}, 0.45, kMuted);
}

}  // namespace

cv::Mat render_stream_view(const ViewState& s) {
  const int height = kHeaderHeight + kVideoHeight + int(s.queries.size()) * kRowHeight + 6;
  cv::Mat img(height, kViewWidth, CV_8UC3, kWhite);
  draw_header(img, s);
  draw_video(img, s);
  draw_labels(img, s);
  for (size_t q = 0; q < s.queries.size(); ++q)
    draw_row(img, s.queries[q], kHeaderHeight + kVideoHeight + int(q) * kRowHeight);
  return img;
}

StreamView::StreamView(std::string source, const std::vector<std::string>& queries,
                       const std::vector<double>& thresholds, double hysteresis, bool window)
    : window_name_("sfvu stream: " + source), window_(window) {
  state_.source = std::move(source);
  for (size_t q = 0; q < queries.size(); ++q)
    state_.queries.push_back({queries[q], q < thresholds.size() ? thresholds[q] : thresholds.empty() ? 0.5 : thresholds.back(),
                              hysteresis, {}, {}});
  if (window_) cv::namedWindow(window_name_, cv::WINDOW_AUTOSIZE | cv::WINDOW_GUI_NORMAL);  // no Qt toolbar
}

StreamView::~StreamView() {
  if (!window_) return;
  try {
    cv::destroyWindow(window_name_);
  } catch (const cv::Exception&) {  // the user may have closed it already
  }
}

void StreamView::set_frame(int width, int height, const uint8_t* rgb) {
  state_.frame_width = width;
  state_.frame_height = height;
  state_.frame_rgb.assign(rgb, rgb + size_t(width) * size_t(height) * 3);
}

void StreamView::add_update(double pts_seconds, double latency_ms, int64_t dropped, const std::vector<float>& scores,
                            const std::vector<bool>& active) {
  state_.pts_seconds = pts_seconds;
  state_.latency_ms = latency_ms;
  state_.dropped = dropped;
  for (size_t q = 0; q < state_.queries.size() && q < scores.size(); ++q) {
    ViewQuery& v = state_.queries[q];
    v.scores.push_back(scores[q]);
    v.active.push_back(q < active.size() && active[q]);
    if (v.scores.size() > kHistory) v.scores.pop_front(), v.active.pop_front();
  }
}

bool StreamView::show() {
  if (!window_) return true;
  cv::imshow(window_name_, render_stream_view(state_));
  const int key = cv::waitKey(1);
  if (key == 'q' || key == 'Q' || key == 27) return false;
  return cv::getWindowProperty(window_name_, cv::WND_PROP_VISIBLE) >= 1;
}

void StreamView::write_snapshot(const std::string& png_path) const {
  bool ok = false;
  try {
    ok = cv::imwrite(png_path, render_stream_view(state_));
  } catch (const cv::Exception& e) {
    throw IoError(png_path + ": cannot write the snapshot: " + e.what());
  }
  if (!ok) throw IoError(png_path + ": cannot write the snapshot (check the folder exists and the name ends in .png)");
}

}  // namespace sfvu::cli
