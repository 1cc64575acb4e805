#include "sfvu/pathways/video_tokens.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/pathways/checkpoint_io.h"
#include "sfvu/pathways/slowfast_layout.h"

namespace sfvu::pathways {
namespace fs = std::filesystem;

torch::Tensor VideoTokens::layout() const { return slowfast_tokens(slow, fast); }

int64_t VideoTokens::n_tokens() const {
  return (slow.defined() ? slow.numel() / slow.size(-1) : 0) + (fast.defined() ? fast.numel() / fast.size(-1) : 0);
}

namespace {

TensorDtype safetensors_dtype(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return TensorDtype::kF32;
    case torch::kFloat64: return TensorDtype::kF64;
    case torch::kInt64: return TensorDtype::kI64;
    default: throw UsageError("save_video_tokens: unsupported dtype " + std::string(c10::toString(t.scalar_type())));
  }
}

const char* kFormatKey = "sfvu_format";
const char* kFormatValue = "video_tokens/1";

}  // namespace

void save_video_tokens(const std::string& path, const VideoTokens& v, const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> named = {
      {"slow", v.slow.to(torch::kFloat32).contiguous()},
      {"fast", v.fast.to(torch::kFloat32).contiguous()},
      {"slow_embeds", v.slow_embeds.to(torch::kFloat32).contiguous()},
      {"fast_embeds", v.fast_embeds.to(torch::kFloat32).contiguous()},
      {"slow_pts_seconds", torch::tensor(v.slow_pts_seconds, torch::kFloat64)},
      {"fast_pts_seconds", torch::tensor(v.fast_pts_seconds, torch::kFloat64)},
      {"slow_frame_indices", torch::tensor(v.slow_frame_indices, torch::kInt64)},
      {"fast_frame_indices", torch::tensor(v.fast_frame_indices, torch::kInt64)}};
  if (v.fast_flow.defined()) named.emplace_back("fast_flow", v.fast_flow.to(torch::kFloat32).contiguous());
  std::vector<TensorToWrite> out;
  for (const auto& [name, t] : named) out.push_back({name, safetensors_dtype(t), t.sizes().vec(), t.data_ptr()});
  std::map<std::string, std::string> meta = metadata;
  meta[kFormatKey] = kFormatValue;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v.duration_seconds);
  meta["duration_seconds"] = buf;
  write_safetensors(path, out, meta);
}

VideoTokens load_video_tokens(const std::string& path, std::map<std::string, std::string>* metadata) {
  auto file = SafetensorsFile::open(path);
  const auto& meta = file->metadata();
  auto it = meta.find(kFormatKey);
  if (it == meta.end() || it->second != kFormatValue)
    throw FormatError(path + ": not an sfvu video-tokens file (no " + std::string(kFormatKey) + "=" + kFormatValue + ")");
  auto get = [&](const std::string& key, int64_t dims) {
    if (!file->contains(key)) throw FormatError(path + ": missing tensor '" + key + "'");
    torch::Tensor t = to_tensor(file->tensor(key), file).clone();
    if (t.dim() != dims) throw FormatError(path + ": tensor '" + key + "' has " + std::to_string(t.dim()) + " dims, expected " + std::to_string(dims));
    return t;
  };
  VideoTokens v;
  v.slow = get("slow", 4);
  v.fast = get("fast", 4);
  v.slow_embeds = get("slow_embeds", 2);
  v.fast_embeds = get("fast_embeds", 2);
  auto doubles = [](const torch::Tensor& t) { return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel()); };
  auto longs = [](const torch::Tensor& t) { return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()); };
  v.slow_pts_seconds = doubles(get("slow_pts_seconds", 1).to(torch::kFloat64));
  v.fast_pts_seconds = doubles(get("fast_pts_seconds", 1).to(torch::kFloat64));
  v.slow_frame_indices = longs(get("slow_frame_indices", 1).to(torch::kInt64));
  v.fast_frame_indices = longs(get("fast_frame_indices", 1).to(torch::kInt64));
  const int64_t ts = v.slow.size(0), tf = v.fast.size(0);
  if (v.slow_embeds.size(0) != ts || int64_t(v.slow_pts_seconds.size()) != ts || int64_t(v.slow_frame_indices.size()) != ts ||
      v.fast_embeds.size(0) != tf || int64_t(v.fast_pts_seconds.size()) != tf || int64_t(v.fast_frame_indices.size()) != tf)
    throw FormatError(path + ": slow/fast tensors disagree on their frame counts");
  if (file->contains("fast_flow")) {
    v.fast_flow = get("fast_flow", 4);
    if (v.fast_flow.size(0) != tf || v.fast_flow.size(3) != 2)
      throw FormatError(path + ": tensor 'fast_flow' must be [" + std::to_string(tf) + ", h, w, 2]");
  }
  auto d = meta.find("duration_seconds");
  if (d == meta.end()) throw FormatError(path + ": no duration_seconds in the metadata");
  v.duration_seconds = std::strtod(d->second.c_str(), nullptr);
  if (metadata) *metadata = meta;
  return v;
}

std::string stable_hash_hex(const std::string& text) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string TokenCache::default_dir() {
  if (const char* d = std::getenv("SFVU_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "sfvu" / "tokens").string();
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "sfvu" / "tokens").string();
  return (fs::temp_directory_path() / "sfvu-tokens").string();
}

std::string TokenCache::full_key(const std::string& video, const std::string& key) const {
  struct stat st {};
  if (::stat(video.c_str(), &st) != 0) throw IoError(video + ": cannot stat for the token cache");
  std::error_code ec;
  fs::path abs = fs::absolute(video, ec);
  return (ec ? video : abs.lexically_normal().string()) + "|" + std::to_string(st.st_size) + "|" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "|" + key;
}

std::string TokenCache::path_for(const std::string& video, const std::string& key) const {
  return (fs::path(dir_) / (fs::path(video).stem().string() + "-" + stable_hash_hex(full_key(video, key)) + ".safetensors"))
      .string();
}

std::optional<VideoTokens> TokenCache::get(const std::string& video, const std::string& key) const {
  const std::string path = path_for(video, key);
  if (!fs::exists(path)) return std::nullopt;
  try {
    std::map<std::string, std::string> meta;
    VideoTokens v = load_video_tokens(path, &meta);
    if (meta["cache_key"] != full_key(video, key)) return std::nullopt;
    return v;
  } catch (const std::exception& e) {
    log_message(LogLevel::kWarning, std::string("token cache: ignoring unreadable entry: ") + e.what());
    return std::nullopt;
  }
}

std::string TokenCache::put(const std::string& video, const std::string& key, const VideoTokens& tokens) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw IoError(dir_ + ": cannot create the token cache folder: " + ec.message());
  const std::string path = path_for(video, key);
  save_video_tokens(path, tokens, {{"cache_key", full_key(video, key)}, {"video", video}});
  return path;
}

}  // namespace sfvu::pathways
