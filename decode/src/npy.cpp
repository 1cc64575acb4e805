#include "sfvu/base/npy.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <numeric>
#include <sstream>

#include "atomic_file.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"

namespace sfvu {
namespace {

using detail::get_le;
using detail::put_le;

NpyDtype parse_npy_descr(const std::string& d, const std::string& where) {
  for (NpyDtype t : {NpyDtype::kUint8, NpyDtype::kInt32, NpyDtype::kInt64, NpyDtype::kFloat16,
                     NpyDtype::kFloat32, NpyDtype::kFloat64})
    if (d == npy_descr(t)) return t;
  if (d == "<u1") return NpyDtype::kUint8;
  throw FormatError(where + ": unsupported npy dtype '" + d + "'");
}

/// The text of `key`'s value in a .npy header dict: 'quoted' -> quoted, (a, b) -> a, b.
std::string npy_header_value(const std::string& header, const std::string& key, const std::string& where) {
  size_t k = header.find("'" + key + "'");
  size_t colon = k == std::string::npos ? k : header.find(':', k);
  size_t start = colon == std::string::npos ? colon : header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) throw FormatError(where + ": .npy header has no '" + key + "'");
  char open = header[start];
  size_t end = open == '(' ? header.find(')', start)
               : open == '\'' ? header.find('\'', start + 1)
                              : header.find_first_of(",}", start);
  if (end == std::string::npos) throw FormatError(where + ": malformed .npy header value of '" + key + "'");
  return open == '(' || open == '\'' ? header.substr(start + 1, end - start - 1)
                                     : header.substr(start, end - start);
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

std::string npy_header_bytes(NpyDtype dtype, const std::vector<int64_t>& shape, size_t min_size) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i)
    dims += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  std::string dict = "{'descr': '" + npy_descr(dtype) + "', 'fortran_order': False, 'shape': (" +
                     dims + "), }";
  // numpy pads magic(6) + version(2) + length(2) + dict + '\n' to a multiple of 64; a
  // streaming writer may ask for more room (Note [npy header]).
  size_t total = 10 + dict.size() + 1;
  size_t padded = std::max(min_size, (total + 63) / 64 * 64);
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  put_le(out, dict.size(), 2);
  return out + dict;
}

NpyArray parse_npy_bytes(const uint8_t* p, size_t n, const std::string& where) {
  if (n < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
    throw FormatError(where + ": not an .npy member (bad magic)");
  size_t pos = 0;
  uint64_t header_len = 0;
  if (p[6] == 1) {
    header_len = get_le(p + 8, 2);
    pos = 10;
  } else if ((p[6] == 2 || p[6] == 3) && n >= 12) {
    header_len = get_le(p + 8, 4);
    pos = 12;
  } else {
    throw FormatError(where + ": unsupported .npy version " + std::to_string(int(p[6])));
  }
  if (header_len > n - pos) throw FormatError(where + ": truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(p + pos), header_len);
  pos += header_len;

  NpyArray arr;
  arr.dtype = parse_npy_descr(npy_header_value(header, "descr", where), where);
  if (npy_header_value(header, "fortran_order", where) != "False")
    throw FormatError(where + ": Fortran-order arrays are not supported");
  const std::string dims = npy_header_value(header, "shape", where);
  uint64_t bytes = npy_item_size(arr.dtype);
  for (size_t i = 0; i < dims.size();) {
    size_t comma = std::min(dims.find(',', i), dims.size());
    std::string item = dims.substr(i, comma - i);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    i = comma + 1;
    if (item.empty()) continue;
    if (item.find_first_not_of("0123456789") != std::string::npos || item.size() > 18)
      throw FormatError(where + ": bad .npy shape entry '" + item + "'");
    int64_t d = std::stoll(item);
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
      throw FormatError(where + ": .npy shape overflows");
    arr.shape.push_back(d);
  }
  if (bytes != n - pos)
    throw FormatError(where + ": .npy data is " + std::to_string(n - pos) + " bytes, its shape needs " +
                      std::to_string(bytes));
  arr.data.assign(p + pos, p + n);
  return arr;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy_bytes(bytes.data(), bytes.size(), path);
}

void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape,
               const void* data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(path + ": cannot open for writing: " + std::strerror(errno));
  std::string header = npy_header_bytes(dtype, shape);
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
  size_t len = npy_header_bytes(dtype_, widest).size();
  std::string header = npy_header_bytes(dtype_, shape, len);
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
