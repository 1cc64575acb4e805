// sfvu/base/safetensors.h: Hugging Face safetensors checkpoints, read (memory-mapped,
// zero-copy, validated) and written. No torch here: tensors are typed views of the mapped
// bytes; sfvu/pathways wraps them as torch tensors without copying.
//
// Format: u64 little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
// then the data block; offsets are relative to the start of the data block.
//
// Nothing in a header is trusted before it is checked: N is bounded (and inside the file),
// the JSON must parse and have the right types, every dtype is known, every range lies inside
// the data block, ranges do not overlap, and numel(shape) * dtype size == range length.
// Every error names the file and, where there is one, the tensor.
//
// Thread safety: an opened file/checkpoint is immutable; share it freely across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sfvu {

enum class TensorDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

size_t dtype_size(TensorDtype dtype);
/// safetensors spelling: "F32", "BF16", "I64", "U8", "BOOL", ...
std::string to_string(TensorDtype dtype);
/// Parses the safetensors spelling; throws FormatError mentioning `context` if unknown.
TensorDtype parse_tensor_dtype(const std::string& name, const std::string& context);

/// A tensor inside a mapped file. `data` stays valid while the owning file is alive.
struct TensorView {
  std::string name;
  TensorDtype dtype = TensorDtype::kF32;
  std::vector<int64_t> shape;  ///< [] for a 0-d tensor (e.g. CLIP's logit_scale)
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  int64_t numel() const;
};

/// One .safetensors file, memory-mapped read-only.
class SafetensorsFile {
 public:
  /// Maps and validates `path`. Throws IoError (cannot open/map) or FormatError (anything
  /// wrong in the header), naming the file and tensor.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// All tensors, sorted by name.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const;
  /// Throws FormatError "<file>: no tensor '<name>'" when absent.
  const TensorView& tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorView> tensors_;
};

/// A checkpoint: one `model.safetensors`, or shards listed by `model.safetensors.index.json`
/// ({"weight_map": {tensor: shard file}}). Opening a directory looks for those two names.
class SafetensorsCheckpoint {
 public:
  /// `path`: a .safetensors file, an .index.json, or a directory holding either. Every shard
  /// is validated; a tensor listed in the index but absent from its shard, or present in two
  /// shards, is a FormatError naming both.
  static SafetensorsCheckpoint open(const std::string& path);

  const std::string& path() const { return path_; }
  /// All tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  /// Throws FormatError "<checkpoint>: no tensor '<name>'" when absent.
  const TensorView& tensor(const std::string& name) const;
  /// The file holding `name` (keep it alive as long as views into it are used).
  std::shared_ptr<const SafetensorsFile> file_of(const std::string& name) const;
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }

 private:
  std::string path_;
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

struct TensorToWrite {
  std::string name;
  TensorDtype dtype = TensorDtype::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  ///< numel(shape) * dtype_size(dtype) bytes
};

/// Writes a safetensors file (tensors sorted by name, contiguous offsets, header padded with
/// spaces to a multiple of 8, `metadata` as __metadata__). Writes to a temporary name and
/// renames, so a crash never leaves a half-written checkpoint. Throws IoError naming `path`.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sfvu
