// Rasterising synthetic frames: a static background, then each visible actor's sprite.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "sfvu/base/error.h"
#include "sfvu/grounding/synth.h"
#include "synth_rng.h"

namespace sfvu::grounding {
namespace {

uint8_t clamp_byte(double v) { return static_cast<uint8_t>(std::clamp<long>(std::lround(v), 0, 255)); }

bool inside_shape(SynthShape shape, int side, int px, int py) {
  const double x = px + 0.5, y = py + 0.5, half = side / 2.0;  // pixel centre
  switch (shape) {
    case SynthShape::kSquare: return true;
    case SynthShape::kCircle: return (x - half) * (x - half) + (y - half) * (y - half) <= half * half;
    case SynthShape::kTriangle: return std::abs(x - half) <= half * y / side;  // apex at the top centre
  }
  return false;
}

}  // namespace

SynthRenderer::SynthRenderer(const SynthVideo& video)
    : actors_(video.actors), size_(video.size), n_frames_(video.n_frames) {
  const int n = size_;
  const SynthBackground& bg = video.background;
  synth_detail::SynthRng noise(bg.noise_seed);
  background_.resize(size_t(n) * n * 3);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      double g = bg.grey;
      for (const SynthBlob& b : bg.blobs) {
        const double dx = x + 0.5 - b.cx, dy = y + 0.5 - b.cy;
        g += b.amplitude * std::exp(-(dx * dx + dy * dy) / (2 * b.sigma * b.sigma));
      }
      g += static_cast<double>(noise.uniform_int(-10, 10));
      uint8_t* p = &background_[(size_t(y) * n + x) * 3];
      p[0] = p[1] = p[2] = clamp_byte(g);
    }
  sprites_.reserve(actors_.size());
  for (const SynthActor& a : actors_) {
    const int side = a.side_pixels;
    synth_detail::SynthRng texture(a.texture_seed);
    const auto colour = synth_rgb(a.colour);
    Sprite s;
    s.rgb.resize(size_t(side) * side * 3);
    s.mask.resize(size_t(side) * side);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const size_t i = size_t(y) * side + x;
        s.mask[i] = inside_shape(a.shape, side, x, y);
        for (int c = 0; c < 3; ++c) s.rgb[i * 3 + c] = clamp_byte(colour[c] + static_cast<double>(texture.uniform_int(-8, 8)));
      }
    if (a.mark != SynthMark::kNone)
      for (int y = std::max(0, a.mark_y); y < std::min(side, a.mark_y + a.mark_height); ++y)
        for (int x = std::max(0, a.mark_x); x < std::min(side, a.mark_x + a.mark_width); ++x) {
          const size_t i = size_t(y) * side + x;
          s.mask[i] = 1;
          std::memset(&s.rgb[i * 3], 255, 3);
        }
    sprites_.push_back(std::move(s));
  }
}

void SynthRenderer::render_frame(int64_t frame, uint8_t* rgb) const {
  if (frame < 0 || frame >= n_frames_)
    throw UsageError("synth: frame " + std::to_string(frame) + " outside [0, " + std::to_string(n_frames_) + ")");
  std::memcpy(rgb, background_.data(), background_.size());
  for (size_t k = 0; k < actors_.size(); ++k) {
    const SynthActor& a = actors_[k];
    if (!a.visible_at(frame)) continue;
    const auto pos = a.position_at(frame);
    const int x0 = static_cast<int>(std::lround(pos[0])), y0 = static_cast<int>(std::lround(pos[1]));
    const Sprite& s = sprites_[k];
    const int side = a.side_pixels;
    for (int y = std::max(0, -y0); y < std::min(side, size_ - y0); ++y)
      for (int x = std::max(0, -x0); x < std::min(side, size_ - x0); ++x) {
        const size_t i = size_t(y) * side + x;
        if (s.mask[i]) std::memcpy(rgb + (size_t(y0 + y) * size_ + (x0 + x)) * 3, &s.rgb[i * 3], 3);
      }
  }
}

void render_synth_frame(const SynthVideo& video, double t_seconds, const SynthOptions& options, uint8_t* rgb) {
  if (options.size != video.size || options.fps != video.fps)
    throw UsageError(video.vid + ": render options (size " + std::to_string(options.size) + ", fps " +
                     std::to_string(options.fps) + ") differ from the video's");
  // A small tolerance so that t = k / fps computed in floating point lands on frame k.
  const auto frame = static_cast<int64_t>(std::floor(t_seconds * video.fps + 1e-6));
  SynthRenderer(video).render_frame(frame, rgb);
}

}  // namespace sfvu::grounding
