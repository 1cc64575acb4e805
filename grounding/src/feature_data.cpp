#include "sfvu/grounding/feature_data.h"

#include <algorithm>
#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/base/npz.h"

namespace sfvu::grounding {
namespace fs = std::filesystem;

namespace {

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// ROOT/<name>_features (Moment-DETR) or ROOT/<name> (lighthouse); "" when neither exists.
std::string source_dir(const fs::path& root, const std::string& name) {
  for (const fs::path& p : {root / (name + "_features"), root / name})
    if (is_dir(p)) return p.string();
  return "";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The array `key` of `path` as float32 [rows, D] (a 1-D array is one row), its first
// `max_rows` rows; `expect_dim` > 0 checks the width. `what` says what the file is for.
torch::Tensor read_rows(const std::string& path, const std::string& key, int64_t max_rows, int64_t expect_dim,
                        const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw IoError(path + ": missing (" + what + ")");
  const std::map<std::string, NpyArray> arrays = read_npz(path);
  const auto it = arrays.find(key);
  if (it == arrays.end()) {
    std::string keys;
    for (const auto& entry : arrays) keys += (keys.empty() ? "" : ", ") + entry.first;
    throw FormatError(path + ": no array '" + key + "' (it has: " + (keys.empty() ? "nothing" : keys) + ")");
  }
  const NpyArray& a = it->second;
  if (a.shape.size() != 1 && a.shape.size() != 2)
    throw FormatError(path + ": '" + key + "' has shape " + shape_text(a.shape) + ", expected [rows, D]");
  torch::Dtype dtype = torch::kFloat32;
  switch (a.dtype) {
    case NpyDtype::kFloat32: dtype = torch::kFloat32; break;
    case NpyDtype::kFloat16: dtype = torch::kFloat16; break;
    case NpyDtype::kFloat64: dtype = torch::kFloat64; break;
    default: throw FormatError(path + ": '" + key + "' is " + npy_descr(a.dtype) + ", expected floating point");
  }
  const int64_t rows = a.shape.size() == 2 ? a.shape[0] : 1, dim = a.shape.back();
  if (rows == 0 || dim == 0) throw FormatError(path + ": '" + key + "' has no row (shape " + shape_text(a.shape) + ")");
  if (expect_dim > 0 && dim != expect_dim)
    throw FormatError(path + ": '" + key + "' rows are " + std::to_string(dim) + " wide; the model reads " +
                      std::to_string(expect_dim) + " (" + what + ")");
  torch::Tensor t = torch::from_blob(const_cast<uint8_t*>(a.data.data()), {rows, dim}, dtype);
  return t.slice(0, 0, max_rows).to(torch::kFloat32).clone();
}

std::string video_file(const FeatureLayout& layout, size_t source, const std::string& vid) {
  return (fs::path(layout.source_dirs.at(source)) / (vid + ".npz")).string();
}

std::string query_file(const FeatureLayout& layout, int64_t qid) {
  return (fs::path(layout.query_dir) / ("qid" + std::to_string(qid) + ".npz")).string();
}

// Moment-DETR's loader: x / (|x|_2 + 1e-5), the epsilon added to the norm (spec §3).
torch::Tensor normalized_rows(const torch::Tensor& x) { return x / (x.norm(2, 1, /*keepdim=*/true) + 1e-5); }

}  // namespace

FeatureLayout find_feature_layout(const std::string& dir, const std::vector<std::string>& sources) {
  if (!is_dir(dir)) throw IoError(dir + ": not a folder (expected pre-extracted features)");
  const fs::path d(dir);
  for (const fs::path& root : {d, d / "features", d / "QVHighlight", d / "features" / "QVHighlight"}) {
    const std::string query_dir = source_dir(root, "clip_text");
    if (query_dir.empty()) continue;
    FeatureLayout layout{root.string(), {}, {}, query_dir};
    for (const std::string& name : sources.empty() ? kDefaultFeatureSources : sources) {
      const std::string found = source_dir(root, name);
      if (found.empty() && sources.empty()) continue;
      if (found.empty())
        throw IoError(root.string() + ": no folder " + name + "_features/ or " + name + "/ (feature source '" + name + "')");
      layout.sources.push_back(name);
      layout.source_dirs.push_back(found);
    }
    if (layout.sources.empty())
      throw IoError(root.string() + ": no video feature folder (slowfast_features/, clip_features/, slowfast/ or clip/)");
    return layout;
  }
  throw IoError(dir + ": no query feature folder clip_text_features/ or clip_text/ here, under features/ or under "
                      "QVHighlight/ (the Moment-DETR / lighthouse layout)");
}

bool has_feature_layout(const std::string& dir) {
  try {
    find_feature_layout(dir);
    return true;
  } catch (const IoError&) {
    return false;
  }
}

FeatureReader::FeatureReader(FeatureLayout layout, FeatureInputConfig config)
    : layout_(std::move(layout)), config_(std::move(config)) {
  if (layout_.sources != config_.sources || config_.source_dims.size() != config_.sources.size())
    throw UsageError("feature reader: the layout's sources differ from the model's");
}

FeatureInputConfig FeatureReader::probe(const FeatureLayout& layout, const std::string& vid, int64_t qid,
                                        FeatureInputConfig base) {
  FeatureInputConfig c = std::move(base);
  c.sources = layout.sources;
  c.source_dims.clear();
  c.detail_source = std::find(c.sources.begin(), c.sources.end(), "clip") != c.sources.end() ? "clip" : "";
  for (size_t s = 0; s < layout.sources.size(); ++s)
    c.source_dims.push_back(
        int(read_rows(video_file(layout, s, vid), "features", 1, 0, "feature source '" + layout.sources[s] + "'").size(1)));
  c.query_dim = int(read_rows(query_file(layout, qid), c.query_key, 1, 0, "query features").size(1));
  return c;
}

std::string FeatureReader::video_path(size_t source, const std::string& vid) const {
  return video_file(layout_, source, vid);
}

std::string FeatureReader::query_path(int64_t qid) const { return query_file(layout_, qid); }

VideoFeatures FeatureReader::video(const std::string& vid, double duration_seconds) const {
  const auto& c = config_;
  std::vector<torch::Tensor> rows;
  int64_t n = -1;
  for (size_t s = 0; s < c.sources.size(); ++s) {
    torch::Tensor x = read_rows(video_path(s, vid), "features", c.max_rows, c.source_dims[s],
                                "feature source '" + c.sources[s] + "'");
    rows.push_back(c.normalize ? normalized_rows(x) : x);
    n = n < 0 ? x.size(0) : std::min(n, x.size(0));
  }
  // Sources can differ by a row or so (spec §2): every one is cut to the shortest.
  torch::Tensor detail;
  for (size_t s = 0; s < rows.size(); ++s) {
    rows[s] = rows[s].slice(0, 0, n);
    if (c.sources[s] == c.detail_source) detail = rows[s];
  }
  if (c.tef) {
    torch::Tensor start = torch::arange(n, torch::kFloat32) / double(n);
    rows.push_back(torch::stack({start, start + 1.0 / double(n)}, 1));
  }
  torch::Tensor timeline = torch::cat(rows, 1);
  if (!detail.defined()) detail = timeline;
  VideoFeatures v;
  v.fast = timeline.reshape({n, 1, 1, timeline.size(1)});
  v.slow = detail.reshape({n, 1, 1, detail.size(1)});
  for (int64_t i = 0; i < n; ++i) v.fast_seconds.push_back((double(i) + 0.5) * c.clip_seconds);
  v.slow_seconds = v.fast_seconds;
  v.duration_seconds = duration_seconds > 0 ? duration_seconds : double(n) * c.clip_seconds;
  return v;
}

torch::Tensor FeatureReader::query(int64_t qid) const {
  torch::Tensor q = read_rows(query_path(qid), config_.query_key, config_.max_query_tokens, config_.query_dim,
                              "query features");
  return config_.normalize ? normalized_rows(q) : q;
}

TextBatch query_batch(const std::vector<torch::Tensor>& queries) {
  if (queries.empty()) throw UsageError("query_batch: no query");
  int64_t longest = 0;
  for (const auto& q : queries) longest = std::max(longest, q.size(0));
  const int64_t B = int64_t(queries.size()), D = queries.front().size(1);
  TextBatch t{torch::zeros({B, longest, D}), torch::zeros({B, longest}, torch::kBool)};
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = queries[size_t(b)].size(0);
    t.features[b].slice(0, 0, n).copy_(queries[size_t(b)]);
    t.mask[b].slice(0, 0, n).fill_(true);
  }
  return t;
}

}  // namespace sfvu::grounding
