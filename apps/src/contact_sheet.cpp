#include "contact_sheet.h"

#include <algorithm>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

constexpr int kMargin = 16;
constexpr int kLine = 26;
const cv::Scalar kBackground(32, 32, 32);
const cv::Scalar kText(235, 235, 235);
const cv::Scalar kStamp(40, 220, 255);

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& color) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 3, cv::LINE_AA);
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

}  // namespace

void write_contact_sheet(const std::string& path, const std::vector<std::string>& header,
                         const std::vector<SheetStream>& streams, int sheet_width) {
  // Height: header, then per stream a title line and its rows of thumbnails.
  int height = kMargin + int(header.size()) * kLine;
  for (const SheetStream& s : streams) {
    const int64_t n = s.frames->size();
    const int w = s.frames->width, h = s.frames->height;
    const int cols = std::max(1, (sheet_width - 2 * kMargin) / (w + 2));
    height += kLine + kMargin + int((n + cols - 1) / cols) * (h + 2) + kMargin;
  }
  cv::Mat sheet(height, sheet_width, CV_8UC3, kBackground);
  int y = kMargin;
  for (const std::string& line : header) {
    y += kLine;
    text(sheet, line, {kMargin, y - 6}, 0.65, kText);
  }
  for (const SheetStream& s : streams) {
    y += kLine + kMargin;
    text(sheet, s.title, {kMargin, y - 6}, 0.65, kText);
    const int64_t n = s.frames->size();
    const int h = s.frames->height, w = s.frames->width;
    const int cols = std::max(1, (sheet_width - 2 * kMargin) / (w + 2));
    for (int64_t i = 0; i < n; ++i) {
      int x0 = kMargin + int(i % cols) * (w + 2);
      int y0 = y + int(i / cols) * (h + 2);
      cv::Mat rgb(h, w, CV_8UC3, const_cast<uint8_t*>(s.frames->frame(i)));
      cv::Mat cell = sheet(cv::Rect(x0, y0, w, h));
      cv::cvtColor(rgb, cell, cv::COLOR_RGB2BGR);
      char stamp[32];
      std::snprintf(stamp, sizeof(stamp), "%.2fs", s.frames->pts_seconds[size_t(i)]);
      text(sheet, stamp, {x0 + 4, y0 + h - 6}, w >= 200 ? 0.55 : 0.38, kStamp);
    }
    y += int((n + cols - 1) / cols) * (h + 2) + kMargin;
  }
  if (!cv::imwrite(path, sheet)) throw IoError(path + ": cannot write PNG");
}

}  // namespace sfvu::cli
