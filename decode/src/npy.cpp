#include "sfvu/base/npy.h"

#include <cstring>
#include <numeric>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"

namespace sfvu {
namespace {

// Header of a fixed 128-byte multiple so close() can rewrite it in place (Note [npy header]).
constexpr size_t kHeaderBlock = 128;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) s += ",";
    if (i + 1 < shape.size()) s += " ";
  }
  return s + ")";
}

std::string make_header(NpyDtype dtype, const std::vector<int64_t>& shape, size_t min_len) {
  std::string dict = "{'descr': '" + npy_descr(dtype) + "', 'fortran_order': False, 'shape': " +
                     shape_text(shape) + ", }";
  // magic(6) + version(2) + len(2) + dict + padding + '\n', total a multiple of kHeaderBlock.
  size_t total = 10 + dict.size() + 1;
  size_t padded = std::max(min_len, (total + kHeaderBlock - 1) / kHeaderBlock * kHeaderBlock);
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string header("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(dict.size());
  header += static_cast<char>(len & 0xff);
  header += static_cast<char>(len >> 8);
  return header + dict;
}

NpyDtype parse_descr(const std::string& d, const std::string& path) {
  if (d == "|u1" || d == "<u1") return NpyDtype::kUint8;
  if (d == "<i4") return NpyDtype::kInt32;
  if (d == "<i8") return NpyDtype::kInt64;
  if (d == "<f2") return NpyDtype::kFloat16;
  if (d == "<f4") return NpyDtype::kFloat32;
  if (d == "<f8") return NpyDtype::kFloat64;
  throw FormatError(path + ": unsupported npy dtype '" + d + "'");
}

}  // namespace

size_t npy_item_size(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kUint8: return 1;
    case NpyDtype::kFloat16: return 2;
    case NpyDtype::kInt32:
    case NpyDtype::kFloat32: return 4;
    case NpyDtype::kInt64:
    case NpyDtype::kFloat64: return 8;
  }
  return 1;
}

std::string npy_descr(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kUint8: return "|u1";
    case NpyDtype::kInt32: return "<i4";
    case NpyDtype::kInt64: return "<i8";
    case NpyDtype::kFloat16: return "<f2";
    case NpyDtype::kFloat32: return "<f4";
    case NpyDtype::kFloat64: return "<f8";
  }
  return "|u1";
}

int64_t NpyArray::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw FormatError(path + ": not an .npy file (bad magic)");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else if (magic[6] == 2 || magic[6] == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  } else {
    throw FormatError(path + ": unsupported .npy version " + std::to_string(int(magic[6])));
  }
  if (!in || header_len > (1u << 20)) throw FormatError(path + ": truncated or oversized .npy header");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw FormatError(path + ": truncated .npy header");

  auto value_of = [&](const std::string& key) -> std::string {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) throw FormatError(path + ": .npy header has no '" + key + "'");
    size_t colon = header.find(':', k);
    size_t start = header.find_first_not_of(' ', colon + 1);
    if (header[start] == '(') return header.substr(start + 1, header.find(')', start) - start - 1);
    if (header[start] == '\'') return header.substr(start + 1, header.find('\'', start + 1) - start - 1);
    return header.substr(start, header.find_first_of(",}", start) - start);
  };
  NpyArray arr;
  arr.dtype = parse_descr(value_of("descr"), path);
  if (value_of("fortran_order") != "False")
    throw FormatError(path + ": Fortran-order .npy arrays are not supported");
  std::stringstream shape_ss(value_of("shape"));
  std::string item;
  while (std::getline(shape_ss, item, ',')) {
    size_t a = item.find_first_not_of(' ');
    if (a == std::string::npos) continue;
    try {
      arr.shape.push_back(std::stoll(item.substr(a)));
    } catch (const std::exception&) {
      throw FormatError(path + ": bad shape entry '" + item + "' in .npy header");
    }
  }
  size_t bytes = static_cast<size_t>(arr.numel()) * npy_item_size(arr.dtype);
  arr.data.resize(bytes);
  if (bytes && !in.read(reinterpret_cast<char*>(arr.data.data()), static_cast<std::streamsize>(bytes)))
    throw FormatError(path + ": .npy data shorter than its shape " + shape_text(arr.shape) + " needs");
  return arr;
}

void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape,
               const void* data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(path + ": cannot open for writing: " + std::strerror(errno));
  std::string header = make_header(dtype, shape, 0);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n * npy_item_size(dtype)));
  if (!out) throw IoError(path + ": write failed");
}

// Note [npy header]: the streaming writer reserves a header long enough for any row count
// (shape digits grow), then rewrites it with the same length at close().
NpyWriter::NpyWriter(std::string path, NpyDtype dtype, std::vector<int64_t> inner_shape)
    : path_(std::move(path)), dtype_(dtype), inner_shape_(std::move(inner_shape)) {
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw IoError(path_ + ": cannot open for writing: " + std::strerror(errno));
  open_ = true;
  write_header();
}

NpyWriter::~NpyWriter() {
  if (!open_) return;
  try {
    close();
  } catch (const std::exception& e) {
    log_message(LogLevel::kError, e.what());
  }
}

void NpyWriter::write_header() {
  std::vector<int64_t> shape{rows_};
  shape.insert(shape.end(), inner_shape_.begin(), inner_shape_.end());
  std::vector<int64_t> widest = shape;
  widest[0] = 999999999999;  // reserve room for the largest plausible count
  size_t len = make_header(dtype_, widest, 0).size();
  std::string header = make_header(dtype_, shape, len);
  out_.seekp(0);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
}

void NpyWriter::append_rows(const void* data, int64_t n_rows) {
  int64_t row = std::accumulate(inner_shape_.begin(), inner_shape_.end(), int64_t{1},
                                std::multiplies<int64_t>());
  out_.write(static_cast<const char*>(data),
             static_cast<std::streamsize>(n_rows * row * static_cast<int64_t>(npy_item_size(dtype_))));
  if (!out_) throw IoError(path_ + ": write failed");
  rows_ += n_rows;
}

void NpyWriter::close() {
  if (!open_) return;
  open_ = false;
  out_.seekp(0, std::ios::end);
  auto end = out_.tellp();
  write_header();
  out_.seekp(end);
  out_.close();
  if (out_.fail()) throw IoError(path_ + ": write failed on close");
}

}  // namespace sfvu
