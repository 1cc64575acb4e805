#include "sfvu/decode/sampling.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sfvu/base/error.h"

namespace sfvu::decode {
namespace {

// End of the sampled range: `to`, clipped to the duration when that is known.
double range_end(const SamplingPlan& plan, double duration_seconds) {
  double end = plan.to_seconds;
  if (duration_seconds >= 0) end = std::min(end, duration_seconds);
  return end;
}

}  // namespace

void SamplingPlan::validate() const {
  if (!std::isfinite(from_seconds) || from_seconds < 0)
    throw UsageError("sampling: --from must be a finite time >= 0, got " + std::to_string(from_seconds));
  if (std::isnan(to_seconds) || to_seconds <= from_seconds)
    throw UsageError("sampling: --to (" + std::to_string(to_seconds) + ") must be after --from (" +
                     std::to_string(from_seconds) + ")");
  switch (mode) {
    case SampleMode::kFps:
      if (!(fps > 0) || !std::isfinite(fps)) throw UsageError("sampling: fps must be > 0, got " + std::to_string(fps));
      break;
    case SampleMode::kCount:
      if (count <= 0) throw UsageError("sampling: frame count must be > 0, got " + std::to_string(count));
      break;
    case SampleMode::kTimestamps:
      if (timestamps.empty()) throw UsageError("sampling: no timestamps given");
      for (double t : timestamps)
        if (!std::isfinite(t) || t < 0)
          throw UsageError("sampling: timestamps must be finite and >= 0, got " + std::to_string(t));
      break;
    case SampleMode::kAll:
      break;
  }
}

std::string SamplingPlan::describe() const {
  std::ostringstream s;
  switch (mode) {
    case SampleMode::kAll: s << "all frames"; break;
    case SampleMode::kFps: s << fps << " fps"; break;
    case SampleMode::kCount: s << count << " frames uniformly"; break;
    case SampleMode::kTimestamps: s << timestamps.size() << " timestamps"; break;
  }
  s << " over [" << from_seconds << ", ";
  if (std::isinf(to_seconds)) s << "end";
  else s << to_seconds;
  s << ")";
  return s.str();
}

std::vector<SampleTarget> plan_targets(const SamplingPlan& plan, double duration_seconds) {
  std::vector<SampleTarget> out;
  TargetCursor cursor(plan, duration_seconds);
  if (cursor.total() < 0)
    throw UsageError("sampling: " + plan.describe() + " is unbounded on an input of unknown duration");
  for (; !cursor.done(); cursor.pop()) out.push_back(cursor.peek());
  return out;
}

TargetCursor::TargetCursor(const SamplingPlan& plan, double duration_seconds) : plan_(plan) {
  plan_.validate();
  end_ = range_end(plan_, duration_seconds);
  switch (plan_.mode) {
    case SampleMode::kAll:
      total_ = 0;
      break;
    case SampleMode::kFps:
      if (std::isfinite(end_)) {
        // Count of k >= 0 with from + k/fps < end, computed the way load() tests it.
        int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end_ - plan_.from_seconds) * plan_.fps)) + 1);
        while (n > 0 && !(plan_.from_seconds + double(n - 1) / plan_.fps < end_)) --n;
        total_ = n;
      }
      break;
    case SampleMode::kCount: {
      if (!std::isfinite(end_))
        throw UsageError("sampling: " + plan_.describe() +
                         " needs a known duration or an explicit --to on this input");
      double span = end_ - plan_.from_seconds;
      if (span > 0)
        for (int64_t k = 0; k < plan_.count; ++k)
          list_.push_back({plan_.from_seconds + (double(k) + 0.5) * span / double(plan_.count), k});
      total_ = static_cast<int64_t>(list_.size());
      break;
    }
    case SampleMode::kTimestamps:
      for (size_t i = 0; i < plan_.timestamps.size(); ++i) {
        double t = plan_.timestamps[i];
        if (t >= plan_.from_seconds && t < end_) list_.push_back({t, static_cast<int64_t>(i)});
      }
      std::stable_sort(list_.begin(), list_.end(),
                       [](const SampleTarget& a, const SampleTarget& b) { return a.seconds < b.seconds; });
      total_ = static_cast<int64_t>(list_.size());
      break;
  }
  load(0);
}

void TargetCursor::load(int64_t k) {
  k_ = k;
  switch (plan_.mode) {
    case SampleMode::kAll:
      done_ = true;
      break;
    case SampleMode::kFps: {
      double t = plan_.from_seconds + double(k) / plan_.fps;
      done_ = !(t < end_);
      current_ = {t, k};
      break;
    }
    case SampleMode::kCount:
    case SampleMode::kTimestamps:
      done_ = k >= static_cast<int64_t>(list_.size());
      if (!done_) current_ = list_[static_cast<size_t>(k)];
      break;
  }
}

bool TargetCursor::done() const { return done_; }
void TargetCursor::pop() { load(k_ + 1); }

}  // namespace sfvu::decode
