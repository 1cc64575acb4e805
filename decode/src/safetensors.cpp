#include "sfvu/base/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "atomic_file.h"
#include "sfvu/base/error.h"

namespace sfvu {
namespace {

using nlohmann::json;

// Note [safetensors header bound]: the header is JSON we parse in memory; a corrupt or hostile
// length must not make us allocate or scan gigabytes. The reference implementation uses the
// same 100 MB order of magnitude.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeName {
  TensorDtype dtype;
  const char* name;
  size_t size;
};
constexpr DtypeName kDtypes[] = {
    {TensorDtype::kF64, "F64", 8}, {TensorDtype::kF32, "F32", 4}, {TensorDtype::kF16, "F16", 2},
    {TensorDtype::kBF16, "BF16", 2}, {TensorDtype::kI64, "I64", 8}, {TensorDtype::kI32, "I32", 4},
    {TensorDtype::kI16, "I16", 2}, {TensorDtype::kI8, "I8", 1}, {TensorDtype::kU8, "U8", 1},
    {TensorDtype::kBool, "BOOL", 1}};

const DtypeName& dtype_entry(TensorDtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d;
  return kDtypes[1];
}

std::string range_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// A JSON value that must be a non-negative integer fitting in int64 (shape entries, offsets).
uint64_t json_count(const json& v, const std::string& context, const char* what) {
  if (v.is_number_unsigned()) {
    uint64_t x = v.get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw FormatError(context + ": " + what + " " + std::to_string(x) + " is too large");
    return x;
  }
  if (v.is_number_integer())
    throw FormatError(context + ": " + what + " " + v.dump() + " is negative");
  throw FormatError(context + ": " + what + " " + v.dump() + " is not an integer");
}

/// Sets *bytes to numel(shape) * dtype size; false when that overflows 64 bits.
bool byte_count(const std::vector<int64_t>& shape, TensorDtype dtype, uint64_t* bytes) {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  *bytes = n;
  return true;
}

struct ParsedTensor {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

ParsedTensor parse_tensor_entry(const std::string& path, const std::string& name, const json& entry,
                                uint64_t data_size) {
  const std::string ctx = path + ": tensor '" + name + "'";
  if (!entry.is_object()) throw FormatError(ctx + ": entry is not a JSON object");
  auto field = [&](const char* key) -> const json& {
    auto it = entry.find(key);
    if (it == entry.end()) throw FormatError(ctx + ": missing \"" + key + "\"");
    return *it;
  };
  ParsedTensor t;
  t.view.name = name;
  const json& dtype = field("dtype");
  if (!dtype.is_string()) throw FormatError(ctx + ": \"dtype\" is not a string");
  t.view.dtype = parse_tensor_dtype(dtype.get<std::string>(), ctx);

  const json& shape = field("shape");
  if (!shape.is_array()) throw FormatError(ctx + ": \"shape\" is not an array");
  for (const json& d : shape) t.view.shape.push_back(static_cast<int64_t>(json_count(d, ctx, "shape entry")));

  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    throw FormatError(ctx + ": \"data_offsets\" is not an array of two integers");
  t.begin = json_count(offsets[0], ctx, "data_offsets begin");
  t.end = json_count(offsets[1], ctx, "data_offsets end");
  if (t.begin > t.end)
    throw FormatError(ctx + ": data_offsets " + range_text(t.begin, t.end) + " begin after end");
  if (t.end > data_size)
    throw FormatError(ctx + ": data_offsets " + range_text(t.begin, t.end) +
                      " end past the data block (" + std::to_string(data_size) + " bytes)");
  uint64_t expected = 0;
  if (!byte_count(t.view.shape, t.view.dtype, &expected))
    throw FormatError(ctx + ": shape overflows the byte count");
  if (expected != t.end - t.begin)
    throw FormatError(ctx + ": shape and dtype " + to_string(t.view.dtype) + " need " +
                      std::to_string(expected) + " bytes but data_offsets " +
                      range_text(t.begin, t.end) + " hold " + std::to_string(t.end - t.begin));
  t.view.bytes = static_cast<size_t>(t.end - t.begin);
  return t;
}

/// Ranges are sorted by begin; an empty range covers no bytes and overlaps nothing.
void check_no_overlap(const std::string& path, std::vector<const ParsedTensor*> by_offset) {
  std::sort(by_offset.begin(), by_offset.end(), [](const ParsedTensor* a, const ParsedTensor* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  const ParsedTensor* reach = nullptr;  // the non-empty range ending furthest so far
  for (const ParsedTensor* t : by_offset) {
    if (t->begin == t->end) continue;
    if (reach && t->begin < reach->end)
      throw FormatError(path + ": tensor '" + t->view.name + "': data_offsets " +
                        range_text(t->begin, t->end) + " overlap tensor '" + reach->view.name +
                        "' " + range_text(reach->begin, reach->end));
    if (!reach || t->end > reach->end) reach = t;
  }
}

}  // namespace

size_t dtype_size(TensorDtype dtype) { return dtype_entry(dtype).size; }

std::string to_string(TensorDtype dtype) { return dtype_entry(dtype).name; }

TensorDtype parse_tensor_dtype(const std::string& name, const std::string& context) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.dtype;
  throw FormatError(context + ": unknown dtype '" + name + "'");
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw IoError(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(path + ": not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    throw FormatError(path + ": too short for a safetensors file (" + std::to_string(file_size) +
                      " bytes, the header length alone takes 8)");
  }
  // The mapping outlives the descriptor. If another process truncates the file while it is
  // mapped, reads of the lost pages raise SIGBUS: checkpoints are treated as immutable.
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) throw IoError(path + ": mmap failed: " + std::strerror(map_errno));
  file->map_ = map;
  file->map_size_ = file_size;
  const uint8_t* bytes = static_cast<const uint8_t*>(map);

  const uint64_t header_len = detail::get_le(bytes, 8);
  if (header_len > kMaxHeaderBytes)
    throw FormatError(path + ": header length " + std::to_string(header_len) +
                      " exceeds the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  if (header_len > file_size - 8)
    throw FormatError(path + ": header length " + std::to_string(header_len) +
                      " runs past the end of the file (" + std::to_string(file_size) + " bytes)");
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const json::exception& e) {
    throw FormatError(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw FormatError(path + ": header is not a JSON object");

  const uint64_t data_size = file_size - 8 - header_len;
  const uint8_t* data = bytes + 8 + header_len;
  std::vector<ParsedTensor> parsed;
  parsed.reserve(header.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it->is_object()) throw FormatError(path + ": __metadata__ is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          throw FormatError(path + ": __metadata__ value of '" + m.key() + "' is not a string");
        file->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    parsed.push_back(parse_tensor_entry(path, it.key(), *it, data_size));
    parsed.back().view.data = data + parsed.back().begin;
  }
  std::vector<const ParsedTensor*> by_offset;
  for (const auto& t : parsed) by_offset.push_back(&t);
  check_no_overlap(path, std::move(by_offset));

  // nlohmann's object is a std::map, so `parsed` is already in name order; sort anyway so
  // the contract does not hang on a library detail.
  std::sort(parsed.begin(), parsed.end(),
            [](const ParsedTensor& a, const ParsedTensor& b) { return a.view.name < b.view.name; });
  file->tensors_.reserve(parsed.size());
  for (auto& t : parsed) file->tensors_.push_back(std::move(t.view));
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

namespace {
const TensorView* find_view(const std::vector<TensorView>& tensors, const std::string& name) {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorView& t, const std::string& n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}
}  // namespace

bool SafetensorsFile::contains(const std::string& name) const {
  return find_view(tensors_, name) != nullptr;
}

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  const TensorView* t = find_view(tensors_, name);
  if (!t) throw FormatError(path_ + ": no tensor '" + name + "'");
  return *t;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });

  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorToWrite& t = *sorted[i];
    const std::string ctx = path + ": tensor '" + t.name + "'";
    if (t.name == kMetadataKey) throw UsageError(ctx + ": the name is reserved");
    if (i > 0 && sorted[i - 1]->name == t.name) throw UsageError(ctx + ": given twice");
    for (int64_t d : t.shape)
      if (d < 0) throw UsageError(ctx + ": negative shape entry " + std::to_string(d));
    uint64_t bytes = 0;
    if (!byte_count(t.shape, t.dtype, &bytes)) throw UsageError(ctx + ": shape overflows");
    if (bytes > 0 && !t.data) throw UsageError(ctx + ": no data");
    header[t.name] = {{"dtype", to_string(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // invalid UTF-8 in a name or metadata
    throw UsageError(path + ": cannot encode the header: " + e.what());
  }
  // Pad with spaces so the data block starts 8-byte aligned (the length prefix is 8 bytes).
  text.append((8 - text.size() % 8) % 8, ' ');

  detail::AtomicFile out(path);
  std::string prefix;
  detail::put_le(prefix, text.size(), 8);
  out.write(prefix);
  out.write(text);
  for (const TensorToWrite* t : sorted) {
    uint64_t bytes = 0;
    byte_count(t->shape, t->dtype, &bytes);
    if (bytes > 0) out.write(t->data, static_cast<size_t>(bytes));
  }
  out.commit();
}

}  // namespace sfvu
