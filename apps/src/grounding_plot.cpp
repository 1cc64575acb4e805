#include "grounding_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "plot_thumbnails.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

using namespace plot;  // layout, shared colours, text/time helpers, Axes, thumbnail strip

// Colours of the curve and the moment bands (BGR); the shared ones are in plot_thumbnails.h.
const cv::Scalar kCurve(170, 85, 25);        // dark blue
const cv::Scalar kCurveFill(245, 225, 205);  // pale blue, under the curve
const cv::Scalar kTop1(20, 95, 235);         // strong orange
const cv::Scalar kOther(150, 130, 110);      // muted slate
const cv::Scalar kOtherInk(110, 90, 70);
constexpr double kTop1Alpha = 0.30, kOtherAlpha = 0.16;

std::string format_span(double start, double end, TimeStyle style) {
  const std::string unit = style == TimeStyle::kSeconds ? " s" : "";
  return format_time(start, style) + "-" + format_time(end, style) + unit;
}

// 1, 2 or 5 times a power of ten, so that `range` holds about `n_ticks` steps.
double nice_step(double range, int n_ticks) {
  const double raw = range / n_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
}

// Time ticks on clock-friendly steps, at least ~90 px apart.
double time_step(double duration_seconds) {
  static const double kSteps[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1,    2,    5,    10,    15,
                                  30,   60,   120,  300, 600, 900, 1800, 3600, 7200, 18000, 36000};
  for (double step : kSteps)
    if (step / duration_seconds * plot_width() >= 90) return step;
  return nice_step(duration_seconds, 10);
}

// Video length for the axis: the given duration, else whatever the data reaches.
double axis_seconds(const GroundingPlot& plot) {
  if (std::isfinite(plot.duration_seconds) && plot.duration_seconds > 0)
    return plot.duration_seconds;
  double end = 0;
  if (std::isfinite(plot.clip_seconds) && plot.clip_seconds > 0)
    end = plot.clip_seconds * double(plot.saliency.size());
  for (const auto& m : plot.moments)
    if (std::isfinite(m[1])) end = std::max({end, m[0], m[1]});
  for (const PlotThumbnail& t : plot.thumbnails)
    if (std::isfinite(t.pts_seconds)) end = std::max(end, t.pts_seconds);
  return end > 0 ? end : 1.0;
}

// Auto-scale from the curve's min to max with 8% margins; a flat curve gets a unit window.
void scale_y(const std::vector<float>& saliency, Axes& axes) {
  double lo = INFINITY, hi = -INFINITY;
  for (float v : saliency)
    if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  if (lo > hi) return;  // nothing finite: keep 0..1
  const double span = hi - lo;
  if (span <= 1e-9 * std::max(1.0, std::abs(hi))) {
    const double pad = std::max(0.5, std::abs(hi) * 0.1);
    axes.y_lo = lo - pad, axes.y_hi = hi + pad;
  } else {
    axes.y_lo = lo - 0.08 * span, axes.y_hi = hi + 0.08 * span;
  }
}

void draw_grid_and_axes(cv::Mat& img, const Axes& axes) {
  const int left = kPlotLeft, right = kWidth - kPlotRight;
  const int top = kPlotTop, bottom = kPlotTop + kPlotHeight;
  // Value ticks.
  const double y_step = nice_step(axes.y_hi - axes.y_lo, 5);
  const int y_decimals = std::clamp(int(-std::floor(std::log10(y_step) + 1e-9)), 0, 6);
  for (double v = std::ceil(axes.y_lo / y_step) * y_step; v <= axes.y_hi + 1e-12; v += y_step) {
    const int y = axes.y(v);
    cv::line(img, {left, y}, {right, y}, kGrid, 1);
    cv::line(img, {left - 5, y}, {left, y}, kAxis, 1);
    char label[32];
    const double tick = std::abs(v) < y_step * 1e-6 ? 0.0 : v;
    if (std::max(std::abs(axes.y_lo), std::abs(axes.y_hi)) >= 1e5 || y_decimals > 4)
      std::snprintf(label, sizeof(label), "%.3g", tick);  // keep the label within the margin
    else
      std::snprintf(label, sizeof(label), "%.*f", y_decimals, tick);
    text(img, label, {left - 9 - text_width(label, 0.42), y + 5}, 0.42, kMuted);
  }
  // Time ticks.
  const TimeStyle style = time_style(axes.seconds);
  const double t_step = time_step(axes.seconds);
  const int t_decimals = t_step >= 1 ? 0 : t_step >= 0.1 ? 1 : 2;
  for (long k = 0; k * t_step <= axes.seconds * (1 + 1e-9); ++k) {
    const int x = axes.x(k * t_step);
    cv::line(img, {x, top}, {x, bottom}, kGrid, 1);
    cv::line(img, {x, bottom}, {x, bottom + 5}, kAxis, 1);
    const std::string label = format_time(k * t_step, style, t_decimals);
    const int w = text_width(label, 0.42);
    text(img, label, {std::min(x - w / 2, kWidth - 4 - w), bottom + 21}, 0.42, kMuted);
  }
  cv::rectangle(img, {left, top}, {right, bottom}, kAxis, 1);
  const std::string caption = style == TimeStyle::kSeconds   ? "time (s)"
                              : style == TimeStyle::kMinutes ? "time (m:ss)"
                                                             : "time (h:mm:ss)";
  text(img, caption, {(left + right - text_width(caption, 0.45)) / 2, bottom + 42}, 0.45, kInk);
  // Value caption above the value ticks (Hershey text cannot be rotated).
  text(img, "saliency", {left - 62, top - 14}, 0.42, kMuted);
}

// The curve as polylines over clip centres (the last clip may be partial); non-finite values
// break it into several runs.
std::vector<std::vector<cv::Point>> curve_runs(const Axes& axes, const GroundingPlot& plot) {
  const size_t n = plot.saliency.size();
  if (n == 0) return {};
  const double clip = std::isfinite(plot.clip_seconds) && plot.clip_seconds > 0
                          ? plot.clip_seconds
                          : axes.seconds / double(n);
  std::vector<std::vector<cv::Point>> runs(1);
  for (size_t i = 0; i < n; ++i) {
    const double start = std::min(double(i) * clip, axes.seconds);
    const double end = std::min(double(i + 1) * clip, axes.seconds);
    if (!std::isfinite(plot.saliency[i])) {
      if (!runs.back().empty()) runs.emplace_back();
      continue;
    }
    const int y = axes.y(plot.saliency[i]);
    if (n == 1) {  // one clip: a level segment across it reads better than a lone dot
      runs.back() = {{axes.x(start), y}, {axes.x(end), y}};
    } else {
      runs.back().push_back({axes.x((start + end) / 2), y});
    }
  }
  return runs;
}

// A pale area under the curve, drawn before the moment bands so that they stay visible.
void draw_curve_fill(cv::Mat& img, const std::vector<std::vector<cv::Point>>& runs) {
  const int bottom = kPlotTop + kPlotHeight;
  for (const auto& run : runs) {
    if (run.empty()) continue;
    std::vector<cv::Point> area = run;
    area.push_back({run.back().x, bottom});
    area.push_back({run.front().x, bottom});
    cv::Mat fill = img.clone();
    cv::fillPoly(fill, std::vector<std::vector<cv::Point>>{area}, kCurveFill, cv::LINE_AA);
    cv::addWeighted(img, 0.4, fill, 0.6, 0, img);
  }
}

void draw_curve(cv::Mat& img, const std::vector<std::vector<cv::Point>>& runs, size_t n_clips) {
  if (n_clips == 0) {
    const std::string msg = "no saliency";
    text(img, msg,
         {kPlotLeft + (plot_width() - text_width(msg, 0.7)) / 2, kPlotTop + kPlotHeight / 2}, 0.7,
         kMuted);
    return;
  }
  // Thinner when clips are denser than a few pixels, or a noisy curve turns into a blob.
  const int thickness = int(n_clips) * 4 > plot_width() ? 1 : 2;
  for (const auto& run : runs) {
    if (run.empty()) continue;
    cv::polylines(img, run, false, kCurve, thickness, cv::LINE_AA);
    if (n_clips <= 40)
      for (const cv::Point& p : run) cv::circle(img, p, 3, kCurve, cv::FILLED, cv::LINE_AA);
  }
}

struct Band {
  int x0, x1;
  size_t rank;  // 0 = top-1
  double start, end, score;
};

std::vector<Band> make_bands(const Axes& axes, const GroundingPlot& plot) {
  std::vector<Band> bands;
  for (size_t r = 0; r < plot.moments.size(); ++r) {
    double start = plot.moments[r][0], end = plot.moments[r][1];
    if (!std::isfinite(start) || !std::isfinite(end)) continue;
    if (start > end) std::swap(start, end);
    int x0 = axes.x(start), x1 = axes.x(end);
    if (x1 - x0 < 3) x1 = std::min(x0 + 3, kWidth - kPlotRight), x0 = x1 - 3;
    bands.push_back({x0, x1, r, start, end, plot.moments[r][2]});
  }
  return bands;
}

void draw_bands(cv::Mat& img, const std::vector<Band>& bands) {
  // Lower ranks first so that the top-1 band is painted last, on top.
  for (auto it = bands.rbegin(); it != bands.rend(); ++it) {
    const bool top1 = it->rank == 0;
    const cv::Rect r(it->x0, kPlotTop, it->x1 - it->x0, kPlotHeight);
    blend_rect(img, r, top1 ? kTop1 : kOther, top1 ? kTop1Alpha : kOtherAlpha);
    if (top1) {
      cv::line(img, {it->x0, kPlotTop}, {it->x0, kPlotTop + kPlotHeight}, kTop1, 2);
      cv::line(img, {it->x1, kPlotTop}, {it->x1, kPlotTop + kPlotHeight}, kTop1, 2);
    }
  }
}

// Labels go in lanes above the plot, each at its band's left edge; the top-1 label first and
// nearest to the plot, the others in the first lane where they do not overlap (or not at all).
// Connectors are drawn before any box so that a line from a higher lane never crosses a label.
void draw_band_labels(cv::Mat& img, const std::vector<Band>& bands, TimeStyle style) {
  struct Placed {
    std::string label;
    cv::Rect box;
    bool top1;
  };
  std::vector<Placed> placed;
  std::vector<std::vector<std::pair<int, int>>> lanes(kLabelLanes);
  for (const Band& b : bands) {
    const bool top1 = b.rank == 0;
    char score[32] = "";
    if (std::isfinite(b.score)) std::snprintf(score, sizeof(score), " (%.2f)", b.score);
    const std::string label = top1 ? "#1 " + format_span(b.start, b.end, style) + score
                                   : "#" + std::to_string(b.rank + 1);
    const int w = text_width(label, top1 ? 0.5 : 0.42) + 12;
    const int x0 = std::clamp(b.x0, kPlotLeft, kWidth - kPlotRight - w), x1 = x0 + w;
    for (int lane = 0; lane < kLabelLanes; ++lane) {
      auto& used = lanes[size_t(lane)];
      const bool free = std::none_of(used.begin(), used.end(), [&](const std::pair<int, int>& u) {
        return x0 < u.second + 4 && u.first < x1 + 4;
      });
      if (!free) continue;
      used.push_back({x0, x1});
      const int bottom = kPlotTop - 2 - lane * kLabelLane;
      placed.push_back({label, cv::Rect(x0, bottom - kLabelLane + 3, w, kLabelLane - 3), top1});
      break;
    }
  }
  for (const Placed& p : placed)
    cv::line(img, {p.box.x, p.box.y}, {p.box.x, kPlotTop}, p.top1 ? kTop1 : kOther, p.top1 ? 2 : 1);
  for (const Placed& p : placed) {
    // Top-1: white on solid orange, the first thing the eye finds; others: quiet tags.
    if (p.top1) {
      img(p.box).setTo(kTop1);
    } else {
      img(p.box).setTo(kWhite);
      blend_rect(img, p.box, kOther, 0.18);
      cv::line(img, {p.box.x, p.box.y}, {p.box.x, p.box.br().y}, kOther, 1);
    }
    text(img, p.label, {p.box.x + 6, p.box.br().y - 4}, p.top1 ? 0.5 : 0.42,
         p.top1 ? kWhite : kOtherInk);
  }
}

void draw_legend(cv::Mat& img, int right, int baseline) {
  struct Item {
    const char* label;
    int kind;
  };
  const Item items[] = {{"saliency", 0}, {"top-1 moment", 1}, {"other moments", 2}};
  int x = right;
  for (auto it = std::rbegin(items); it != std::rend(items); ++it) {
    x -= text_width(it->label, 0.42);
    text(img, it->label, {x, baseline}, 0.42, kMuted);
    x -= 26;
    const cv::Rect swatch(x, baseline - 10, 20, 11);
    if (it->kind == 0) {
      cv::line(img, {x, baseline - 4}, {x + 20, baseline - 4}, kCurve, 2, cv::LINE_AA);
    } else {
      blend_rect(img, swatch, it->kind == 1 ? kTop1 : kOther, it->kind == 1 ? 0.45 : 0.3);
      if (it->kind == 1) cv::rectangle(img, swatch, kTop1, 1);
    }
    x -= 16;
  }
}

cv::Mat render_bgr(const GroundingPlot& plot) {
  Axes axes;
  axes.seconds = axis_seconds(plot);
  scale_y(plot.saliency, axes);
  const std::vector<const PlotThumbnail*> thumbs = drawable_thumbnails(plot.thumbnails);
  const int strip_top = kPlotTop + kPlotHeight + kAxisBand;
  const int height = strip_top + thumbnail_strip_height(thumbs) + kBottomMargin;
  cv::Mat img(height, kWidth, CV_8UC3, kWhite);

  // Header: title with duration, legend on its right, query under it.
  const TimeStyle style = time_style(axes.seconds);
  std::string name = plot.video.substr(plot.video.find_last_of("/\\") + 1);
  if (name.empty()) name = "(unnamed video)";
  char duration[96];
  const size_t n = plot.saliency.size();
  char clips[48] = "";
  if (n > 0 && plot.clip_seconds > 0)
    std::snprintf(clips, sizeof(clips), ", %zu clip%s of %g s", n, n == 1 ? "" : "s",
                  plot.clip_seconds);
  if (style == TimeStyle::kSeconds)
    std::snprintf(duration, sizeof(duration), "   %.1f s%s", axes.seconds, clips);
  else
    std::snprintf(duration, sizeof(duration), "   %s (%.0f s%s)",
                  format_time(axes.seconds, style).c_str(), axes.seconds, clips);
  const int legend_w = 390;
  const std::string title =
      fit_text(ascii_only(name),
               kWidth - 2 * kPlotRight - legend_w - text_width(duration, 0.5) - 10, 0.75, 2);
  text(img, title, {kPlotRight, 34}, 0.75, kInk, 2);
  text(img, duration, {kPlotRight + text_width(title, 0.75, 2), 34}, 0.5, kMuted);
  draw_legend(img, kWidth - kPlotRight, 32);
  const std::string query =
      plot.query.empty() ? "(no query)" : "\"" + ascii_only(plot.query) + "\"";
  text(img, fit_text(query, kWidth - 2 * kPlotRight, 0.6), {kPlotRight, 64}, 0.6, kInk);

  const std::vector<Band> bands = make_bands(axes, plot);
  const auto runs = curve_runs(axes, plot);
  draw_grid_and_axes(img, axes);
  draw_curve_fill(img, runs);
  draw_bands(img, bands);
  draw_curve(img, runs, plot.saliency.size());
  cv::rectangle(img, {kPlotLeft, kPlotTop}, {kWidth - kPlotRight, kPlotTop + kPlotHeight}, kAxis,
                1);
  draw_band_labels(img, bands, style);
  if (!thumbs.empty()) draw_thumbnails(img, axes, thumbs, strip_top);
  return img;
}

}  // namespace

void write_grounding_plot(const std::string& png_path, const GroundingPlot& plot) {
  const cv::Mat img = render_bgr(plot);
  bool ok = false;
  try {
    ok = cv::imwrite(png_path, img);
  } catch (const cv::Exception& e) {  // e.g. an unknown extension
    throw IoError(png_path + ": cannot write PNG: " + e.what());
  }
  if (!ok) throw IoError(png_path + ": cannot write PNG");
}

RenderedImage render_grounding_plot(const GroundingPlot& plot) {
  const cv::Mat bgr = render_bgr(plot);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  RenderedImage out;
  out.width = rgb.cols, out.height = rgb.rows;
  out.rgb.assign(rgb.data, rgb.data + rgb.total() * rgb.elemSize());
  return out;
}

}  // namespace sfvu::cli
