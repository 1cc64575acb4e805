// sfvu/base/npy.h: NumPy .npy files (format 1.0, C order, little endian).
//
// Used for frames (uint8 [T,H,W,3]), features and golden tensors. The writer can stream:
// open with an unknown leading dimension, append rows, and close() rewrites the header with
// the final count (the header is padded so that rewriting never moves the data).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace sfvu {

enum class NpyDtype { kUint8, kInt32, kInt64, kFloat16, kFloat32, kFloat64 };

/// Bytes per element of `dtype`.
size_t npy_item_size(NpyDtype dtype);
/// NumPy descr string, e.g. "<f4", "|u1".
std::string npy_descr(NpyDtype dtype);

struct NpyArray {
  NpyDtype dtype = NpyDtype::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  ///< raw little-endian bytes, C order
  int64_t numel() const;
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(data.data()); }
};

/// The header of a .npy image (format 1.0, padded so the data starts 64-byte aligned, as numpy
/// writes it; at least `min_size` bytes). The data follows it directly.
std::string npy_header_bytes(NpyDtype dtype, const std::vector<int64_t>& shape, size_t min_size = 0);
/// Parses a whole .npy image held in memory (formats 1.0-3.0); `where` names it in errors.
NpyArray parse_npy_bytes(const uint8_t* data, size_t size, const std::string& where);

/// Reads a whole .npy file. Throws IoError (unreadable) or FormatError (bad header,
/// Fortran order, unsupported dtype, size mismatch), naming the file.
NpyArray read_npy(const std::string& path);

/// Writes a whole array at once.
void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape,
               const void* data);

/// Streaming writer: shape = [n, inner...] where n grows with each append_rows().
class NpyWriter {
 public:
  NpyWriter(std::string path, NpyDtype dtype, std::vector<int64_t> inner_shape);
  ~NpyWriter();  ///< closes if still open (errors are logged, not thrown)
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;

  /// Appends `n_rows` rows of prod(inner_shape) elements each.
  void append_rows(const void* data, int64_t n_rows);
  /// Rewrites the header with the final row count and closes the file.
  void close();
  int64_t rows() const { return rows_; }

 private:
  void write_header();
  std::string path_;
  NpyDtype dtype_;
  std::vector<int64_t> inner_shape_;
  std::ofstream out_;
  int64_t rows_ = 0;
  bool open_ = false;
};

}  // namespace sfvu
