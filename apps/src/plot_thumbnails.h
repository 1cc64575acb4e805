// Internals of the grounding plot (grounding_plot.cpp), not a public API: the page layout and
// shared colours, the small text and time helpers both halves of the picture use, the mapping
// from time/value to pixels, and the thumbnail strip drawn below the time axis.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "grounding_plot.h"

namespace sfvu::cli::plot {

// Layout, in pixels. The plot area is [kPlotLeft, kWidth - kPlotRight) x
// [kPlotTop, kPlotTop + kPlotHeight); moment labels sit in lanes just above it.
constexpr int kWidth = 1280;
constexpr int kPlotLeft = 72, kPlotRight = 28;
constexpr int kLabelLane = 18, kLabelLanes = 3;
constexpr int kPlotTop = 78 + kLabelLane * kLabelLanes;
constexpr int kPlotHeight = 300;
constexpr int kAxisBand = 52;                     // tick labels and axis caption under the plot
constexpr int kThumbHeight = 76, kThumbGap = 6;   // strip cell height (most), gap between cells
constexpr int kThumbMinHeight = 48;               // cells shrink to this before thinning
constexpr int kThumbLead = 22, kThumbStamp = 18;  // tick/leader above a cell, time under it
constexpr int kBottomMargin = 14;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

constexpr int plot_width() { return kWidth - kPlotLeft - kPlotRight; }

// Colours shared by the plot and the strip (BGR).
inline const cv::Scalar kWhite(255, 255, 255);
inline const cv::Scalar kInk(35, 35, 35);
inline const cv::Scalar kMuted(110, 110, 110);
inline const cv::Scalar kGrid(232, 232, 232);
inline const cv::Scalar kAxis(120, 120, 120);

/// Hershey fonts draw ASCII only: one '?' per UTF-8 sequence, spaces for control characters.
std::string ascii_only(const std::string& s);

/// Width in pixels of `s` drawn in kFont.
int text_width(const std::string& s, double scale, int thickness = 1);

/// Anti-aliased kFont text with its baseline's left end at `at`.
void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& color,
          int thickness = 1);

/// Cuts `s` with "..." so that it fits in `max_width` pixels.
std::string fit_text(std::string s, int max_width, double scale, int thickness = 1);

/// Paints `color` over `r` (clipped to the image) with opacity `alpha`.
void blend_rect(cv::Mat& img, cv::Rect r, const cv::Scalar& color, double alpha);

/// Times: seconds with one decimal for short videos, m:ss from 2 minutes (a 1-hour video still
/// reads "45:10", shorter than "0:45:10"), h:mm:ss from 100 minutes.
enum class TimeStyle { kSeconds, kMinutes, kHours };

TimeStyle time_style(double duration_seconds);
std::string format_time(double t, TimeStyle style, int decimals = 1);

/// Seconds and saliency values to pixels in the plot area; times are clamped to the video.
struct Axes {
  double seconds = 1;
  double y_lo = 0, y_hi = 1;
  int x(double t) const {
    t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, seconds);
    return kPlotLeft + int(std::lround(t / seconds * plot_width()));
  }
  int y(double v) const {
    return kPlotTop + kPlotHeight - int(std::lround((v - y_lo) / (y_hi - y_lo) * kPlotHeight));
  }
};

/// The thumbnails that can be drawn (positive size, enough pixels, finite time), sorted by
/// time (stable, so equal times keep their order).
std::vector<const PlotThumbnail*> drawable_thumbnails(const std::vector<PlotThumbnail>& all);

/// Height the strip adds below the axis band: 0 without thumbnails.
int thumbnail_strip_height(const std::vector<const PlotThumbnail*>& thumbs);

/// Draws `thumbs` (non-empty, from drawable_thumbnails) in one row whose tick line is at
/// `strip_top`; see Note [Thumbnail strip] in plot_thumbnails.cpp.
void draw_thumbnails(cv::Mat& img, const Axes& axes,
                     const std::vector<const PlotThumbnail*>& thumbs, int strip_top);

}  // namespace sfvu::cli::plot
