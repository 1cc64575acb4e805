// sfvu/pathways/video_tokens.h: one video's Slow and Fast tokens, and their on-disk cache.
//
// Shapes (float32, CPU):
//   slow         [Ts, Hs, Ws, D]  pooled patch tokens of the slow frames (CLS dropped)
//   fast         [Tf, Hf, Wf, D]  pooled patch tokens of the fast frames
//   slow_embeds  [Ts, P]          CLIP image embeddings (projected pooled CLS, not normalised)
//   fast_embeds  [Tf, P]          same, for the fast frames (at the fast input size)
// Times are the decoded frames' pts (seconds from the first frame), so a token row lines up
// with the frame the decoder returns for that time.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sfvu::pathways {

struct VideoTokens {
  double duration_seconds = 0;
  torch::Tensor slow, fast;
  torch::Tensor slow_embeds, fast_embeds;
  std::vector<double> slow_pts_seconds, fast_pts_seconds;
  std::vector<int64_t> slow_frame_indices, fast_frame_indices;
  /// [Tf, h, w, 2] float: each fast frame's motion per token place (SlowFastOptions::fast_flow,
  /// Note [Place flow]); undefined when not measured.
  torch::Tensor fast_flow;

  int64_t n_slow() const { return slow.defined() ? slow.size(0) : 0; }
  int64_t n_fast() const { return fast.defined() ? fast.size(0) : 0; }
  /// Slow tokens then fast tokens, frame-major, row-major: [Ts*Hs*Ws + Tf*Hf*Wf, D].
  torch::Tensor layout() const;
  int64_t n_tokens() const;
};

/// Writes `tokens` as safetensors (keys slow, fast, slow_embeds, fast_embeds, *_pts_seconds
/// f64, *_frame_indices i64, fast_flow when defined; duration and `metadata` in __metadata__). Atomic (temp + rename).
void save_video_tokens(const std::string& path, const VideoTokens& tokens,
                       const std::map<std::string, std::string>& metadata = {});
/// Reads a file save_video_tokens wrote; throws FormatError naming the file and the key.
VideoTokens load_video_tokens(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

/// Per-video token files under one folder, so many queries on a video encode it once. An
/// entry is `<dir>/<video stem>-<16 hex>.safetensors`, the hex a hash of the video's absolute
/// path, size and modification time plus `key` (options and model fingerprint); the full
/// key is stored in the file and checked on read, so a hash collision is a miss, not a wrong
/// answer. Unreadable entries are misses (with a warning). Safe across processes: writes are
/// atomic renames.
class TokenCache {
 public:
  explicit TokenCache(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  /// The cached tokens of `video` under `key`, if present and valid.
  std::optional<VideoTokens> get(const std::string& video, const std::string& key) const;
  /// Stores `tokens` (creates the folder). Throws IoError naming the file.
  std::string put(const std::string& video, const std::string& key, const VideoTokens& tokens) const;
  /// The entry's path (whether or not it exists); throws IoError if `video` cannot be stat'ed.
  std::string path_for(const std::string& video, const std::string& key) const;
  /// The default folder: $SFVU_CACHE_DIR, else $XDG_CACHE_HOME/sfvu/tokens, else
  /// ~/.cache/sfvu/tokens.
  static std::string default_dir();

 private:
  std::string full_key(const std::string& video, const std::string& key) const;
  std::string dir_;
};

/// FNV-1a 64-bit of `text` as 16 hex digits (stable across runs and machines).
std::string stable_hash_hex(const std::string& text);

}  // namespace sfvu::pathways
