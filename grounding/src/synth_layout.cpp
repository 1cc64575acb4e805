// Where the synthetic actors go: random places, actors visible together never overlapping,
// marks aligned to the fast pathway's pixel grid.
#include <algorithm>
#include <cmath>

#include "sfvu/base/error.h"
#include "synth_layout.h"

namespace sfvu::grounding::synth_detail {
namespace {

constexpr int kBorderPixels = 2;  // kept free along the frame edges
constexpr int kGapPixels = 2;     // between the boxes of actors visible at the same time
constexpr int kPlaceTries = 300;  // positions tried per actor before re-drawing the layout
constexpr int kLayoutTries = 200;
constexpr int kJitterPixels = 2;  // the mark's offset from the shape's centre

struct Box {
  int x0, y0, x1, y1;  // [x0, x1) x [y0, y1)
};

// The box an actor covers over its whole trajectory; keeping these apart is stronger than
// checking sampled instants along the paths (moving actors never touch anything).
Box swept_box(const SynthActor& a) {
  int x = a.x, y = a.y;
  Box b{x, y, x, y};
  for (const SynthMove& m : a.moves) {
    x += m.dx;
    y += m.dy;
    b = {std::min(b.x0, x), std::min(b.y0, y), std::max(b.x1, x), std::max(b.y1, y)};
  }
  return {b.x0, b.y0, b.x1 + a.side_pixels, b.y1 + a.side_pixels};
}

bool apart(const Box& a, const Box& b) {
  return a.x1 + kGapPixels <= b.x0 || b.x1 + kGapPixels <= a.x0 || a.y1 + kGapPixels <= b.y0 ||
         b.y1 + kGapPixels <= a.y0;
}

bool together(const SynthActor& a, const SynthActor& b) {
  return a.appear_frame < b.disappear_frame && b.appear_frame < a.disappear_frame;
}

bool inside_frame(const Box& b, int size) {
  return b.x0 >= kBorderPixels && b.y0 >= kBorderPixels && b.x1 <= size - kBorderPixels &&
         b.y1 <= size - kBorderPixels;
}

// Note [Mark alignment]
// The fast pathway sees the frame at 32 px, each of its pixels averaging an S/32-pixel cell.
// The dot (d x d) and the bar (ceil(d/2) x round(d*d/ceil(d/2))) have about the same number
// of white pixels; putting both with their centroid on a cell centre keeps them inside one
// cell (at S = 128: 2x2 and 1x4 inside a 4x4 cell), so their 32 px images are the same up to
// the few fill-noise pixels they cover. The mark keeps its place on the shape (centre +/- 2
// px); the (stationary) actor is shifted by at most half a cell to align it.
void place_mark(SynthActor& a, int size, SynthRng& rng) {
  const double cell = size / 32.0;
  const double cx = a.side_pixels / 2.0;
  const double cy = a.shape == SynthShape::kTriangle ? 2.0 * a.side_pixels / 3.0 : a.side_pixels / 2.0;
  a.mark_x = static_cast<int>(std::lround(cx + rng.uniform_int(-kJitterPixels, kJitterPixels) - a.mark_width / 2.0));
  a.mark_y = static_cast<int>(std::lround(cy + rng.uniform_int(-kJitterPixels, kJitterPixels) - a.mark_height / 2.0));
  auto aligned = [&](int origin, int local, int extent) {  // new origin putting the mark's centroid on a cell centre
    const double centroid = origin + local + extent / 2.0;
    const double want = (std::floor(centroid / cell) + 0.5) * cell - extent / 2.0;  // mark start
    double start = std::floor(want);
    if (want - start > 0.5 || (want - start == 0.5 && rng.chance(0.5))) start += 1;
    return origin + static_cast<int>(start) - (origin + local);
  };
  a.x = aligned(a.x, a.mark_x, a.mark_width);
  a.y = aligned(a.y, a.mark_y, a.mark_height);
}

}  // namespace

// Random places for all actors such that actors visible together never overlap.
void lay_out_actors(std::vector<SynthActor>& actors, int size, SynthRng& rng, const std::string& vid) {
  for (int layout = 0; layout < kLayoutTries; ++layout) {
    size_t placed = 0;
    for (; placed < actors.size(); ++placed) {
      SynthActor& a = actors[placed];
      a.x = a.y = 0;
      const Box extent = swept_box(a);  // relative to the start position
      bool ok = false;
      for (int t = 0; t < kPlaceTries && !ok; ++t) {
        const int w = extent.x1 - extent.x0, h = extent.y1 - extent.y0;
        a.x = static_cast<int>(rng.uniform_int(kBorderPixels, size - kBorderPixels - w)) - extent.x0;
        a.y = static_cast<int>(rng.uniform_int(kBorderPixels, size - kBorderPixels - h)) - extent.y0;
        if (a.mark != SynthMark::kNone) place_mark(a, size, rng);
        const Box box = swept_box(a);
        ok = inside_frame(box, size);
        for (size_t j = 0; ok && j < placed; ++j)
          if (together(a, actors[j])) ok = apart(box, swept_box(actors[j]));
      }
      if (!ok) break;
    }
    if (placed == actors.size()) return;
  }
  throw Error(vid + ": cannot lay out the actors without overlap (frame too small?)");
}

}  // namespace sfvu::grounding::synth_detail
