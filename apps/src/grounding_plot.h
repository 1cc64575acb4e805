// A one-glance picture of a temporal-grounding result (`sfvu ground --plot FILE.png`):
// title (video, duration) and query; the per-clip saliency curve over a time axis; the ranked
// moments as translucent bands (top-1 strong and labelled with its span and score, the others
// light and numbered); a strip of thumbnails below the axis, each tied to its time by a tick.
// OpenCV drawing with Hershey fonts, so text is ASCII only: every non-ASCII character (each
// UTF-8 sequence) is drawn as '?'. About 1280 px wide; the height depends on the strip.
//
// Degenerate inputs draw a sensible picture instead of failing: empty saliency ("no saliency"),
// no moments, no thumbnails, a flat curve, a zero duration (taken from the data), non-finite
// saliency values (gaps in the curve), moments outside the video (clamped).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sfvu::cli {

/// One frame to show under the time axis.
struct PlotThumbnail {
  double pts_seconds = 0;
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  ///< RGB24, rows packed: width * height * 3 bytes
};

struct GroundingPlot {
  std::string video;  ///< shown as title (file name only; directories are dropped)
  std::string query;  ///< shown as subtitle, quoted
  double duration_seconds = 0, clip_seconds = 2;
  std::vector<float> saliency;                 ///< one per clip: clip i is [i*clip, (i+1)*clip)
  std::vector<std::array<double, 3>> moments;  ///< [start_s, end_s, score], ranked best first
  std::vector<PlotThumbnail> thumbnails;       ///< any count; evenly thinned when they do not fit
};

/// Renders to a PNG (about 1280 px wide). Throws sfvu::IoError naming the path if it cannot
/// be written.
void write_grounding_plot(const std::string& png_path, const GroundingPlot& plot);

/// The same image as `write_grounding_plot` writes, as packed RGB24 rows (for tests).
struct RenderedImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};
RenderedImage render_grounding_plot(const GroundingPlot& plot);

}  // namespace sfvu::cli
