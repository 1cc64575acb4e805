#include "sfvu/decode/frame_index.h"

#include <algorithm>
#include <cmath>

namespace sfvu::decode {

FrameIndex::FrameIndex(std::vector<IndexEntry> frames, std::vector<IndexEntry> discarded,
                       int time_base_num, int time_base_den)
    : frames_(std::move(frames)), tb_num_(time_base_num), tb_den_(time_base_den) {
  auto by_pts = [](const IndexEntry& a, const IndexEntry& b) { return a.pts < b.pts; };
  std::stable_sort(frames_.begin(), frames_.end(), by_pts);
  for (const auto& e : frames_)
    if (e.key) keyframes_.push_back(e);
  for (const auto& e : discarded)
    if (e.key) keyframes_.push_back(e);
  std::stable_sort(keyframes_.begin(), keyframes_.end(), by_pts);
  first_pts_ = frames_.empty() ? 0 : frames_.front().pts;
}

double FrameIndex::seconds(int64_t pts) const {
  return ticks_to_seconds(pts - first_pts_, tb_num_, tb_den_);
}

int64_t FrameIndex::to_pts(double s) const {
  return first_pts_ + static_cast<int64_t>(std::floor((s + kTimeEpsilonSeconds) * tb_den_ / tb_num_));
}

double FrameIndex::duration_seconds() const {
  if (frames_.empty()) return 0;
  const IndexEntry& last = frames_.back();
  int64_t dur = last.duration;
  if (dur <= 0 && frames_.size() > 1)  // no packet duration: assume the average frame spacing
    dur = (last.pts - first_pts_) / static_cast<int64_t>(frames_.size() - 1);
  return seconds(last.pts + dur);
}

int64_t FrameIndex::frame_at(double s) const {
  if (frames_.empty() || s >= duration_seconds() - kTimeEpsilonSeconds) return -1;
  int64_t pts = to_pts(s);
  auto it = std::upper_bound(frames_.begin(), frames_.end(), pts,
                             [](int64_t v, const IndexEntry& e) { return v < e.pts; });
  if (it == frames_.begin()) return 0;
  return static_cast<int64_t>(it - frames_.begin()) - 1;
}

int64_t FrameIndex::frame_for_pts(int64_t pts) const {
  auto it = std::upper_bound(frames_.begin(), frames_.end(), pts,
                             [](int64_t v, const IndexEntry& e) { return v < e.pts; });
  if (it == frames_.begin()) return 0;
  return static_cast<int64_t>(it - frames_.begin()) - 1;
}

const IndexEntry& FrameIndex::keyframe_for(int64_t i) const {
  static const IndexEntry kNone{};
  if (keyframes_.empty()) return frames_.empty() ? kNone : frames_.front();
  int64_t pts = frames_[static_cast<size_t>(i)].pts;
  auto it = std::upper_bound(keyframes_.begin(), keyframes_.end(), pts,
                             [](int64_t v, const IndexEntry& e) { return v < e.pts; });
  if (it == keyframes_.begin()) return keyframes_.front();
  return *(it - 1);
}

const IndexEntry* FrameIndex::keyframe_before(const IndexEntry& kf) const {
  auto it = std::lower_bound(keyframes_.begin(), keyframes_.end(), kf.pts,
                             [](const IndexEntry& e, int64_t v) { return e.pts < v; });
  if (it == keyframes_.begin()) return nullptr;
  return &*(it - 1);
}

std::vector<int64_t> FrameIndex::keyframe_frames() const {
  std::vector<int64_t> out;
  for (size_t i = 0; i < frames_.size(); ++i)
    if (frames_[i].key) out.push_back(static_cast<int64_t>(i));
  return out;
}

}  // namespace sfvu::decode
