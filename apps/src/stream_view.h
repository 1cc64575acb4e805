// The picture of `sfvu stream`: shown live with --window (OpenCV highgui) and written at exit
// with --snapshot FILE.png (headless too).
//
// Layout, kViewWidth px wide (look and feel of the grounding plot: white page, Hershey text,
// the same inks; ASCII only, non-ASCII characters drawn as '?'):
//   header   source name; stream time, latency and dropped-frame count on the right
//   video    the latest frame letterboxed into kVideoWidth x kVideoHeight (black until the
//            first frame); labels of the active queries in its lower-left corner; a red banner
//            while the source is being reconnected
//   rows     one per query: its text, score and threshold on the left; a sparkline of its
//            last kHistory scores on the right with the threshold (solid) and the end level
//            threshold - hysteresis (dotted); updates during which the query was active are
//            shaded
// Drawing is pure (render()); only show() touches a window.
//
// Thread safety: one thread (OpenCV highgui wants the thread that created the window).
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace sfvu::cli {

constexpr int kViewWidth = 960;
constexpr int kVideoWidth = 960, kVideoHeight = 540;  ///< the decoder's view stream is letterboxed to this
constexpr size_t kHistory = 120;                      ///< updates kept per sparkline

struct ViewQuery {
  std::string text;
  double threshold = 0.5, hysteresis = 0.05;
  std::deque<float> scores;   ///< oldest first, at most kHistory
  std::deque<bool> active;    ///< same length as scores
};

struct ViewState {
  std::string source;
  int frame_width = 0, frame_height = 0;
  std::vector<uint8_t> frame_rgb;  ///< RGB24 rows packed; empty: no frame yet
  double pts_seconds = NAN, latency_ms = NAN;
  int64_t dropped = 0;
  std::string status;              ///< shown as a banner when not empty (e.g. "reconnecting")
  std::vector<ViewQuery> queries;
};

/// Renders `state` as a BGR 8-bit image kViewWidth wide.
cv::Mat render_stream_view(const ViewState& state);

class StreamView {
 public:
  /// `window`: open a highgui window named after the source (needs a display).
  StreamView(std::string source, const std::vector<std::string>& queries, const std::vector<double>& thresholds,
             double hysteresis, bool window);
  ~StreamView();
  StreamView(const StreamView&) = delete;
  StreamView& operator=(const StreamView&) = delete;

  void set_frame(int width, int height, const uint8_t* rgb);
  void add_update(double pts_seconds, double latency_ms, int64_t dropped, const std::vector<float>& scores,
                  const std::vector<bool>& active);
  void set_status(std::string status) { state_.status = std::move(status); }
  const ViewState& state() const { return state_; }

  /// Window mode: draws the current state and handles window events. Returns false once the
  /// user closed the window or pressed q / Esc. Without a window: does nothing, returns true.
  bool show();
  /// Renders the current state to `png_path`; throws IoError naming it.
  void write_snapshot(const std::string& png_path) const;

 private:
  ViewState state_;
  std::string window_name_;
  bool window_ = false;
};

}  // namespace sfvu::cli
