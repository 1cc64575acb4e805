#include "sfvu/pathways/clip_bundle.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/pathways/video_tokens.h"

namespace sfvu::pathways {
namespace fs = std::filesystem;

std::string folder_fingerprint(const std::string& dir) {
  std::ostringstream s;
  std::error_code ec;
  s << fs::absolute(dir, ec).lexically_normal().string();
  std::ifstream config(fs::path(dir) / "config.json");
  s << "|" << config.rdbuf();
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors" || e.path().filename() == "model.safetensors.index.json")
      names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    struct stat st {};
    if (::stat(n.c_str(), &st) == 0)
      s << "|" << fs::path(n).filename().string() << ":" << st.st_size << ":" << st.st_mtim.tv_sec << "."
        << st.st_mtim.tv_nsec;
  }
  return stable_hash_hex(s.str());
}

ClipBundle ClipBundle::load(const std::string& dir, torch::Dtype dtype, torch::Device device) {
  ClipBundle b;
  b.dir = dir;
  b.model = ClipModel(ClipModelImpl::from_pretrained(dir, dtype, device));
  if (fs::exists(fs::path(dir) / "vocab.json") && fs::exists(fs::path(dir) / "merges.txt"))
    b.tokenizer = std::make_shared<const ClipTokenizer>(ClipTokenizer::from_pretrained(dir));
  b.processor = ClipImageProcessor::from_pretrained(dir, b.model->config().vision.image_size);
  b.fingerprint = folder_fingerprint(dir);
  return b;
}

const ClipTokenizer& ClipBundle::require_tokenizer() const {
  if (!tokenizer) throw UsageError(dir + ": this model folder has no vocab.json/merges.txt: cannot tokenize text");
  return *tokenizer;
}

torch::Tensor ClipBundle::text_embeds(const std::vector<std::string>& texts) const {
  const ClipTokenizer& tok = require_tokenizer();
  const int context = model->config().text.max_position_embeddings;
  std::vector<int64_t> ids;
  for (const auto& t : texts) {
    auto row = tok.encode_padded(t, context);
    ids.insert(ids.end(), row.begin(), row.end());
  }
  torch::NoGradGuard no_grad;
  torch::Tensor input = torch::tensor(ids, torch::kInt64).view({int64_t(texts.size()), context}).to(model->device());
  ClipModel m = model;  // the holder is const here; forward does not mutate the weights
  TextOutput out = m->text(input);
  if (!out.embeds.defined()) throw UsageError(dir + ": this checkpoint has no text_projection: no joint text embedding");
  return out.embeds.to(torch::kCPU, torch::kFloat32);
}

}  // namespace sfvu::pathways
