// sfvu/pathways/place_flow.h: how the content of each place of a pathway's token grid moves
// from frame to frame, measured on the pixels (Note [Place flow] in place_flow.cpp).
#pragma once

#include <torch/torch.h>

namespace sfvu::pathways {

/// Pixels per grid place at which place_flow measures motion.
constexpr int64_t kFlowPixelsPerPlace = 8;

/// uint8 frames [T, H, W, 3] area-resized to [T, 8*grid_h, 8*grid_w, 3] (the frames
/// themselves when already that size): all place_flow needs of them, so a long video's frames
/// can be kept at this size until its flow is measured.
torch::Tensor flow_frames(const torch::Tensor& frames, int64_t grid_h, int64_t grid_w);

/// Note [Place flow]: per frame and grid place, the Lucas-Kanade motion (u, v) of its content
/// in pixels of the flow frames (8 per place) per frame step, u to the right, v downwards:
/// float [T, grid_h, grid_w, 2]. Frames of any size are resized first (flow_frames). The first
/// and last frames use one-sided differences; a single frame has no motion (zeros).
/// UsageError unless uint8 [T, H, W, 3] and the grid is positive.
torch::Tensor place_flow(const torch::Tensor& frames, int64_t grid_h, int64_t grid_w);

}  // namespace sfvu::pathways
