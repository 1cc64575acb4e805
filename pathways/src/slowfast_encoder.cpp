#include "sfvu/pathways/slowfast_encoder.h"

#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/pathways/place_flow.h"
#include "sfvu/pathways/slowfast_layout.h"

namespace sfvu::pathways {
namespace {

// Per-pathway accumulation of chunk outputs.
struct Collected {
  std::vector<torch::Tensor> tokens, embeds;
  std::vector<double> pts;
  std::vector<int64_t> indices;
  void add(const PathwayOutput& out, std::vector<double> p, std::vector<int64_t> i) {
    tokens.push_back(out.tokens);
    embeds.push_back(out.embeds);
    pts.insert(pts.end(), p.begin(), p.end());
    indices.insert(indices.end(), i.begin(), i.end());
  }
  torch::Tensor cat_tokens(const PathwayPlan& plan, int64_t dim) const {
    return tokens.empty() ? torch::zeros({0, plan.tokens_h, plan.tokens_w, dim}) : torch::cat(tokens, 0);
  }
  torch::Tensor cat_embeds(int64_t dim) const { return embeds.empty() ? torch::zeros({0, dim}) : torch::cat(embeds, 0); }
};

}  // namespace

// Note [Low-resolution fast pathway]
// SlowFast-LLaVA runs the backbone at full resolution on every fast frame and then pools
// 24x24 tokens down to 4x4: almost all of that compute is thrown away. Run at a low input
// size instead (position embeddings interpolated bicubically, as transformers'
// interpolate_pos_encoding), a ViT's cost falls with the square of the token count: ViT-B/16
// at 112 px sees 49 patches instead of 196 (about 4.3x fewer FLOPs), and the 4x4 pool of its
// 7x7 grid still summarises the same regions. `sfvu bench pathways` measures the FLOPs, time
// and the cosine similarity between the two ways' tokens on a real video.

SlowFastEncoder::SlowFastEncoder(ClipBundle clip, SlowFastOptions options)
    : clip_(std::move(clip)), options_(std::move(options)) {
  options_.validate();
  const int L = clip_.model->config().vision.num_hidden_layers;
  layer_ = options_.layer < 0 ? L + 1 + options_.layer : options_.layer;
  if (layer_ < 0 || layer_ > L)
    throw UsageError("layer " + std::to_string(options_.layer) + " is outside 0.." + std::to_string(L) + " (or -1..-" +
                     std::to_string(L + 1) + " from the end)");
}

SlowFastPlan SlowFastEncoder::plan(const decode::VideoReader& reader) const {
  return plan_tokens(options_, clip_.model->config().vision, reader.info().duration_seconds, reader.index());
}

torch::Tensor SlowFastEncoder::pool(const torch::Tensor& grid, const PathwayPlan& p) {
  torch::Tensor g = grid;
  if (p.pool_h > 0 && (p.pool_h != g.size(1) || p.pool_w != g.size(2))) g = adaptive_avg_pool_grid(g, p.pool_h, p.pool_w);
  if (p.pair_max_pool) g = max_pool_pairs(g);
  return g.contiguous();
}

torch::Tensor backbone_grid(ClipModel model, const ClipImageProcessor& processor, int layer, const torch::Tensor& frames,
                            torch::Tensor* embeds) {
  torch::Tensor pixels = processor.normalize(frames).to(model->device(), model->dtype());
  const bool last = layer == model->config().vision.num_hidden_layers;
  VisionOutput v = model->vision(pixels, !last);
  torch::Tensor hs = last ? v.last_hidden_state : v.hidden_states[size_t(layer)];
  if (embeds) *embeds = v.embeds.defined() ? v.embeds : v.pooled;
  return hs.slice(1, 1).reshape({hs.size(0), v.grid_h, v.grid_w, hs.size(2)});
}

namespace {

struct BackboneOutput {
  torch::Tensor grid;    // [T, gh, gw, D] float32 CPU
  torch::Tensor embeds;  // [T, P] float32 CPU
};

BackboneOutput run_backbone_batch(const ClipBundle& clip, int layer, const torch::Tensor& frames) {
  torch::NoGradGuard no_grad;
  BackboneOutput out;
  out.grid = backbone_grid(clip.model, clip.processor, layer, frames, &out.embeds);
  out.grid = out.grid.to(torch::kCPU, torch::kFloat32);
  out.embeds = out.embeds.to(torch::kCPU, torch::kFloat32);
  return out;
}

// Frames [T, S, S, 3] in forward passes of at most `batch` frames.
BackboneOutput run_backbone(const ClipBundle& clip, int layer, const torch::Tensor& frames, int batch) {
  if (frames.size(0) <= batch) return run_backbone_batch(clip, layer, frames);
  std::vector<torch::Tensor> grids, embeds;
  for (int64_t i = 0; i < frames.size(0); i += batch) {
    BackboneOutput b = run_backbone_batch(clip, layer, frames.slice(0, i, std::min<int64_t>(frames.size(0), i + batch)));
    grids.push_back(b.grid);
    embeds.push_back(b.embeds);
  }
  return {torch::cat(grids), torch::cat(embeds)};
}

}  // namespace

PathwayOutput SlowFastEncoder::encode_frames(const torch::Tensor& frames, const PathwayPlan& pathway) const {
  if (frames.dim() != 4 || frames.size(1) != pathway.input_size || frames.size(2) != pathway.input_size ||
      frames.size(3) != 3 || frames.scalar_type() != torch::kUInt8)
    throw UsageError("encode_frames: expected uint8 [T, " + std::to_string(pathway.input_size) + ", " +
                     std::to_string(pathway.input_size) + ", 3] frames");
  BackboneOutput b = run_backbone(clip_, layer_, frames, options_.batch);
  return {pool(b.grid, pathway), b.embeds};
}

VideoTokens SlowFastEncoder::encode(decode::VideoReader& reader, const ProgressCallback& progress,
                                    EncodeStats* stats) const {
  return encode(reader, plan(reader), progress, stats);
}

VideoTokens SlowFastEncoder::encode(decode::VideoReader& reader, const SlowFastPlan& plan,
                                    const ProgressCallback& progress, EncodeStats* stats) const {
  TokenAssembler assembler(*this, plan);
  const decode::DecodeStats d = reader.decode(
      assembler.requests(), [&](decode::FrameChunk&& c) { assembler.add(c); }, progress);
  return assembler.finish(d, stats);
}

struct TokenAssembler::Impl {
  Collected slow, fast;
  std::vector<torch::Tensor> flow_frames;  // fast frames at the flow size (options().fast_flow)
  std::vector<bool> is_slow;  // shared frames: which fast slots (request positions) are slow frames too
};

TokenAssembler::TokenAssembler(const SlowFastEncoder& encoder, SlowFastPlan plan)
    : encoder_(encoder), plan_(std::move(plan)), impl_(std::make_unique<Impl>()), start_(steady_seconds()) {
  // Stream 0: fast frames; stream 1: slow frames unless they are fast frames too.
  const decode::ResizeMode resize = encoder_.options().resize;
  auto fmt = [&](int size) { return decode::FrameFormat{size, size, resize}; };
  requests_.push_back({decode::SamplingPlan::at(plan_.fast.times_seconds), fmt(plan_.fast.input_size)});
  if (!plan_.shared_frames)
    requests_.push_back({decode::SamplingPlan::at(plan_.slow.times_seconds), fmt(plan_.slow.input_size)});
  impl_->is_slow.assign(plan_.fast.times_seconds.size(), false);
  for (int64_t p : plan_.slow_positions) impl_->is_slow[size_t(p)] = true;
}

TokenAssembler::~TokenAssembler() = default;

void TokenAssembler::add(const decode::FrameChunk& c) {
  if (c.size() == 0) return;
  const ClipBundle& clip = encoder_.clip();
  const auto& vision = clip.model->config().vision;
  torch::Tensor frames =
      torch::from_blob(const_cast<uint8_t*>(c.rgb.data()), {c.size(), c.height, c.width, 3}, torch::kUInt8);
  const double t0 = steady_seconds();
  BackboneOutput b = run_backbone(clip, encoder_.layer_index(), frames, encoder_.options().batch);
  stats_.backbone_seconds += steady_seconds() - t0;
  stats_.backbone_images += c.size();
  stats_.backbone_gflop += c.size() * vision_flops(vision, clip.model->config().projection_dim, c.width) / 1e9;
  if (c.stream == 1) {
    impl_->slow.add({SlowFastEncoder::pool(b.grid, plan_.slow), b.embeds}, c.pts_seconds, c.indices);
    stats_.frames_slow += c.size();
    return;
  }
  impl_->fast.add({SlowFastEncoder::pool(b.grid, plan_.fast), b.embeds}, c.pts_seconds, c.indices);
  if (encoder_.options().fast_flow)  // a frame's motion needs its neighbours: measured in finish()
    impl_->flow_frames.push_back(flow_frames(frames, plan_.fast.tokens_h, plan_.fast.tokens_w).clone());
  stats_.frames_fast += c.size();
  if (!plan_.shared_frames) return;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < c.size(); ++i) {
    if (impl_->is_slow[size_t(c.slots[size_t(i)])]) rows.push_back(i);  // in time order, as the fast frames
  }
  if (rows.empty()) return;
  torch::Tensor idx = torch::tensor(rows, torch::kInt64);
  std::vector<double> pts;
  std::vector<int64_t> ind;
  for (int64_t r : rows) {
    pts.push_back(c.pts_seconds[size_t(r)]);
    ind.push_back(c.indices[size_t(r)]);
  }
  impl_->slow.add({SlowFastEncoder::pool(b.grid.index_select(0, idx), plan_.slow), b.embeds.index_select(0, idx)}, pts,
                  ind);
  stats_.frames_slow += int64_t(rows.size());
}

VideoTokens TokenAssembler::finish(const decode::DecodeStats& decode_stats, EncodeStats* stats) {
  const int projection = encoder_.clip().model->config().projection_dim;
  const int64_t dim = encoder_.clip().model->config().vision.hidden_size;
  Collected& slow = impl_->slow;
  Collected& fast = impl_->fast;
  VideoTokens v;
  v.duration_seconds = plan_.duration_seconds;
  v.fast = fast.cat_tokens(plan_.fast, dim);
  v.fast_embeds = fast.cat_embeds(projection);
  v.fast_pts_seconds = std::move(fast.pts);
  v.fast_frame_indices = std::move(fast.indices);
  if (encoder_.options().fast_flow) {
    const int64_t h = plan_.fast.tokens_h, w = plan_.fast.tokens_w;
    v.fast_flow = impl_->flow_frames.empty()
                      ? torch::zeros({0, h, w, 2})
                      : place_flow(torch::cat(impl_->flow_frames), h, w);
    impl_->flow_frames.clear();
  }
  v.slow = slow.cat_tokens(plan_.slow, dim);
  v.slow_embeds = slow.cat_embeds(projection);
  v.slow_pts_seconds = std::move(slow.pts);
  v.slow_frame_indices = std::move(slow.indices);
  impl_->slow = Collected{};
  impl_->fast = Collected{};
  stats_.decode = decode_stats;
  stats_.total_seconds = steady_seconds() - start_;
  if (stats) *stats = stats_;
  return v;
}

}  // namespace sfvu::pathways
