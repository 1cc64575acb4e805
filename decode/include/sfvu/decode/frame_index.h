// sfvu/decode/frame_index.h: the packet index of one video stream (presentation order).
//
// Built from one demux pass (no decoding). Entry i is the i-th frame in presentation order;
// frame i "is displayed" on [pts_i, pts_{i+1}) (the last frame on [pts, pts + duration)).
// Packets flagged AV_PKT_FLAG_DISCARD (trimmed by an edit list) are not frames, but their
// keyframes are kept for seeking (they must still be fed to the decoder).
// See Note [Frame displayed at time t] in sampling.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sfvu::decode {

/// Times closer than this to a frame boundary count as on it: float seconds cannot represent
/// most timestamps exactly (7/10 s vs 7 ticks of 1/10 s), and no container is finer than 1 us.
constexpr double kTimeEpsilonSeconds = 1e-6;

/// Seconds of `ticks` in time base num/den, computed as ticks*num/den (so 7 ticks of 1/10 s
/// is the same double as 7/10).
inline double ticks_to_seconds(int64_t ticks, int num, int den) { return double(ticks) * num / den; }

struct IndexEntry {
  int64_t pts = 0;        ///< stream time base
  int64_t dts = 0;        ///< stream time base (pts when the packet has none)
  int64_t duration = 0;   ///< stream time base, 0 if unknown
  bool key = false;
};

class FrameIndex {
 public:
  FrameIndex() = default;
  /// `packets` in any order; discarded packets separately (only their keyframes matter).
  FrameIndex(std::vector<IndexEntry> frames, std::vector<IndexEntry> discarded,
             int time_base_num, int time_base_den);

  int64_t size() const { return static_cast<int64_t>(frames_.size()); }
  bool empty() const { return frames_.empty(); }
  const IndexEntry& operator[](int64_t i) const { return frames_[static_cast<size_t>(i)]; }

  int64_t first_pts() const { return first_pts_; }
  /// Seconds from the first frame's pts.
  double seconds(int64_t pts) const;
  /// Stream pts for `seconds` from the first frame.
  int64_t to_pts(double seconds) const;
  /// End of the last frame, seconds from the first frame.
  double duration_seconds() const;
  /// Frame displayed at `seconds` (0 before the first frame, -1 at or after the end).
  int64_t frame_at(double seconds) const;
  /// Frame whose pts equals `pts`, else the last frame with pts < `pts`, else 0.
  int64_t frame_for_pts(int64_t pts) const;
  /// Keyframe packet to seek to so that decoding reaches frame `i` (may be a discarded one).
  const IndexEntry& keyframe_for(int64_t i) const;
  /// Keyframe packet strictly before `kf` in pts order, or nullptr.
  const IndexEntry* keyframe_before(const IndexEntry& kf) const;
  int64_t n_keyframes() const { return static_cast<int64_t>(keyframes_.size()); }
  /// Indices of frames whose packet is a keyframe.
  std::vector<int64_t> keyframe_frames() const;
  int time_base_num() const { return tb_num_; }
  int time_base_den() const { return tb_den_; }

 private:
  std::vector<IndexEntry> frames_;     // sorted by pts
  std::vector<IndexEntry> keyframes_;  // all key packets incl. discarded, sorted by pts
  int64_t first_pts_ = 0;
  int tb_num_ = 1, tb_den_ = 1;
};

}  // namespace sfvu::decode
