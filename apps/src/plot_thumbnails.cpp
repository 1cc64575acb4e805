#include "plot_thumbnails.h"

#include <cstdio>

namespace sfvu::cli::plot {

std::string ascii_only(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      out += '?';
      while (i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) ++i;
    } else {
      out += c < 0x20 || c == 0x7F ? ' ' : char(c);
    }
  }
  return out;
}

int text_width(const std::string& s, double scale, int thickness) {
  int baseline = 0;
  return cv::getTextSize(s, kFont, scale, thickness, &baseline).width;
}

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& color,
          int thickness) {
  cv::putText(img, s, at, kFont, scale, color, thickness, cv::LINE_AA);
}

std::string fit_text(std::string s, int max_width, double scale, int thickness) {
  if (text_width(s, scale, thickness) <= max_width) return s;
  while (!s.empty() && text_width(s + "...", scale, thickness) > max_width) s.pop_back();
  return s + "...";
}

void blend_rect(cv::Mat& img, cv::Rect r, const cv::Scalar& color, double alpha) {
  r &= cv::Rect(0, 0, img.cols, img.rows);
  if (r.empty()) return;
  cv::Mat roi = img(r);
  cv::addWeighted(roi, 1 - alpha, cv::Mat(roi.size(), roi.type(), color), alpha, 0, roi);
}

TimeStyle time_style(double duration_seconds) {
  if (duration_seconds >= 6000) return TimeStyle::kHours;
  return duration_seconds >= 120 ? TimeStyle::kMinutes : TimeStyle::kSeconds;
}

std::string format_time(double t, TimeStyle style, int decimals) {
  char buf[32];
  if (style == TimeStyle::kSeconds) {
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, t);
  } else {
    const long s = std::lround(std::max(0.0, t));
    if (style == TimeStyle::kHours)
      std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
      std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

namespace {

bool thumbnail_ok(const PlotThumbnail& t) {
  return t.width > 0 && t.height > 0 && std::isfinite(t.pts_seconds) &&
         t.rgb.size() >= size_t(t.width) * size_t(t.height) * 3;
}

// Strip cells all take the first thumbnail's aspect (clamped), and shrink (down to
// kThumbMinHeight) so that all thumbnails fit; beyond that they are thinned out.
double thumb_aspect(const std::vector<const PlotThumbnail*>& thumbs) {
  return std::clamp(double(thumbs.front()->width) / thumbs.front()->height, 0.5, 2.4);
}

int thumb_cell_height(const std::vector<const PlotThumbnail*>& thumbs) {
  const int n = int(thumbs.size());
  return std::clamp(int(((plot_width() + kThumbGap) / n - kThumbGap) / thumb_aspect(thumbs)),
                    kThumbMinHeight, kThumbHeight);
}

// At most `fit` of `thumbs`, evenly spread over them (the middle one when only one fits).
std::vector<const PlotThumbnail*> thin_out(const std::vector<const PlotThumbnail*>& thumbs,
                                           int fit) {
  if (int(thumbs.size()) <= fit) return thumbs;
  if (fit == 1) return {thumbs[thumbs.size() / 2]};
  std::vector<const PlotThumbnail*> shown;
  for (int i = 0; i < fit; ++i)
    shown.push_back(thumbs[size_t(std::lround(double(i) * double(thumbs.size() - 1) / (fit - 1)))]);
  return shown;
}

// Left edges: centred on the time, pushed right past the previous cell, then pulled back
// left from the right end; the caller's `fit` guarantees the row fits.
std::vector<int> cell_lefts(const Axes& axes, const std::vector<const PlotThumbnail*>& shown,
                            int cell_w) {
  const int lo = kPlotLeft, hi = kWidth - kPlotRight - cell_w;
  std::vector<int> left(shown.size());
  for (size_t i = 0; i < shown.size(); ++i) {
    left[i] = std::clamp(axes.x(shown[i]->pts_seconds) - cell_w / 2, lo, hi);
    if (i > 0) left[i] = std::max(left[i], left[i - 1] + cell_w + kThumbGap);
  }
  for (size_t i = shown.size(); i-- > 0;) {
    left[i] = std::min(left[i], i + 1 < shown.size() ? left[i + 1] - cell_w - kThumbGap : hi);
  }
  return left;
}

// The frame letterboxed into `cell` on a dark ground, framed.
void draw_cell(cv::Mat& img, const PlotThumbnail& t, const cv::Rect& cell) {
  const double s = std::min(double(cell.width) / t.width, double(cell.height) / t.height);
  const int w = std::max(1, int(t.width * s)), h = std::max(1, int(t.height * s));
  img(cell).setTo(cv::Scalar(40, 40, 40));
  cv::Mat rgb(t.height, t.width, CV_8UC3, const_cast<uint8_t*>(t.rgb.data()));
  cv::Mat bgr, scaled;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  cv::resize(bgr, scaled, {w, h}, 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  scaled.copyTo(
      img(cv::Rect(cell.x + (cell.width - w) / 2, cell.y + (cell.height - h) / 2, w, h)));
  cv::rectangle(img, cell, kAxis, 1);
}

}  // namespace

std::vector<const PlotThumbnail*> drawable_thumbnails(const std::vector<PlotThumbnail>& all) {
  std::vector<const PlotThumbnail*> thumbs;
  for (const PlotThumbnail& t : all)
    if (thumbnail_ok(t)) thumbs.push_back(&t);
  std::stable_sort(thumbs.begin(), thumbs.end(),
                   [](const PlotThumbnail* a, const PlotThumbnail* b) {
                     return a->pts_seconds < b->pts_seconds;
                   });
  return thumbs;
}

int thumbnail_strip_height(const std::vector<const PlotThumbnail*>& thumbs) {
  return thumbs.empty() ? 0 : kThumbLead + thumb_cell_height(thumbs) + kThumbStamp;
}

// Note [Thumbnail strip]: thumbnails in one row under the axis: cells of one size, centred on
// their time where possible, thinned evenly when too many, nudged apart so none overlap; a
// leader joins each cell to a tick at its exact time, and the time is stamped under the cell
// when it fits.
void draw_thumbnails(cv::Mat& img, const Axes& axes,
                     const std::vector<const PlotThumbnail*>& thumbs, int strip_top) {
  const int cell_h = thumb_cell_height(thumbs);
  const int cell_w = int(std::lround(cell_h * thumb_aspect(thumbs)));
  const int fit = std::max(1, (plot_width() + kThumbGap) / (cell_w + kThumbGap));
  const std::vector<const PlotThumbnail*> shown = thin_out(thumbs, fit);
  const std::vector<int> left = cell_lefts(axes, shown, cell_w);
  const TimeStyle style = time_style(axes.seconds);
  const int cell_top = strip_top + kThumbLead;
  // The tick row is the thumbnails' own little time axis.
  cv::line(img, {kPlotLeft, strip_top}, {kWidth - kPlotRight, strip_top}, kGrid, 1);
  for (size_t i = 0; i < shown.size(); ++i) {
    const PlotThumbnail& t = *shown[i];
    const int tick_x = axes.x(t.pts_seconds), centre = left[i] + cell_w / 2;
    cv::line(img, {tick_x, strip_top}, {tick_x, strip_top + 6}, kInk, 2);
    cv::line(img, {tick_x, strip_top + 6}, {centre, cell_top - 1}, kAxis, 1, cv::LINE_AA);
    draw_cell(img, t, cv::Rect(left[i], cell_top, cell_w, cell_h));
    const std::string stamp = format_time(t.pts_seconds, style, axes.seconds < 30 ? 2 : 1);
    const double stamp_scale = cell_w >= 60 ? 0.38 : 0.32;
    const int stamp_w = text_width(stamp, stamp_scale);
    if (stamp_w <= cell_w + kThumbGap - 2)  // too narrow a cell: the tick alone gives the time
      text(img, stamp, {centre - stamp_w / 2, cell_top + cell_h + 14}, stamp_scale, kMuted);
  }
}

}  // namespace sfvu::cli::plot
