// SafetensorsCheckpoint: a single model.safetensors or a sharded checkpoint listed by
// model.safetensors.index.json (the Hugging Face layout).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"

namespace sfvu {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSingleName = "model.safetensors";
constexpr const char* kIndexName = "model.safetensors.index.json";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read failed");
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    throw FormatError(path + ": not valid JSON: " + e.what());
  }
}

/// weight_map of an index: tensor name -> shard path (resolved against the index's folder).
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  json index = read_json_file(index_path);
  if (!index.is_object()) throw FormatError(index_path + ": not a JSON object");
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object())
    throw FormatError(index_path + ": no \"weight_map\" object");
  const fs::path dir = fs::path(index_path).parent_path();
  std::map<std::string, std::string> out;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string ctx = index_path + ": tensor '" + it.key() + "'";
    if (!it->is_string()) throw FormatError(ctx + ": shard is not a string");
    fs::path shard(it->get<std::string>());
    // Shards live next to the index; an absolute or escaping name is a corrupt index.
    bool escapes = shard.empty() || shard.is_absolute();
    for (const auto& part : shard) escapes = escapes || part == "..";
    if (escapes) throw FormatError(ctx + ": shard name '" + shard.string() + "' is not a relative file name");
    out[it.key()] = (dir / shard).string();
  }
  return out;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint ckpt;
  ckpt.path_ = path;
  std::string file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // Same preference as transformers: a single file first, then the sharded index.
    fs::path dir(path);
    if (fs::exists(dir / kSingleName, ec)) file = (dir / kSingleName).string();
    else if (fs::exists(dir / kIndexName, ec)) file = (dir / kIndexName).string();
    else throw IoError(path + ": directory holds neither " + kSingleName + " nor " + kIndexName);
  }

  if (!ends_with(file, ".json")) {
    ckpt.files_.push_back(SafetensorsFile::open(file));
    for (const TensorView& t : ckpt.files_[0]->tensors()) ckpt.where_[t.name] = 0;
    return ckpt;
  }

  const std::map<std::string, std::string> weight_map = read_weight_map(file);
  std::map<std::string, size_t> shard_index;  // shard path -> index in files_
  for (const auto& entry : weight_map) {
    if (shard_index.count(entry.second)) continue;
    try {
      shard_index[entry.second] = ckpt.files_.size();
      ckpt.files_.push_back(SafetensorsFile::open(entry.second));
    } catch (const IoError& e) {
      throw IoError(file + ": shard of tensor '" + entry.first + "': " + e.what());
    }
  }
  // Every tensor of every shard is part of the checkpoint (as when transformers loads each
  // shard's state dict); a name in two shards is ambiguous.
  for (size_t i = 0; i < ckpt.files_.size(); ++i) {
    for (const TensorView& t : ckpt.files_[i]->tensors()) {
      auto [it, inserted] = ckpt.where_.emplace(t.name, i);
      if (!inserted)
        throw FormatError(file + ": tensor '" + t.name + "' is in two shards: " +
                          ckpt.files_[it->second]->path() + " and " + ckpt.files_[i]->path());
    }
  }
  for (const auto& entry : weight_map) {
    const auto& shard = ckpt.files_[shard_index.at(entry.second)];
    if (!shard->contains(entry.first))
      throw FormatError(file + ": tensor '" + entry.first + "' is listed in the index but absent from " +
                        shard->path());
  }
  return ckpt;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& entry : where_) out.push_back(entry.first);
  return out;
}

bool SafetensorsCheckpoint::contains(const std::string& name) const { return where_.count(name) > 0; }

const TensorView& SafetensorsCheckpoint::tensor(const std::string& name) const {
  return file_of(name)->tensor(name);
}

std::shared_ptr<const SafetensorsFile> SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw FormatError(path_ + ": no tensor '" + name + "'");
  return files_[it->second];
}

}  // namespace sfvu
