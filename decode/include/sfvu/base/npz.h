// sfvu/base/npz.h: NumPy .npz archives (a zip of .npy members), as the grounding literature
// stores per-video features (`features` [n_clips, D]) and per-query text features.
//
// The writer stores members uncompressed (like numpy.savez); the reader accepts stored and
// deflated members (numpy.savez_compressed), ZIP64 not required. Member names are given
// without ".npy".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sfvu/base/npy.h"

namespace sfvu {

struct NpzMember {
  std::string name;  ///< key, e.g. "features" (written as "features.npy")
  NpyDtype dtype = NpyDtype::kFloat32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

/// Writes `members` to `path` (temporary file + rename). Throws IoError naming the file.
void write_npz(const std::string& path, const std::vector<NpzMember>& members);

/// Reads every member. Throws IoError / FormatError (bad zip, bad CRC, unsupported
/// compression, bad .npy inside) naming the file and member.
std::map<std::string, NpyArray> read_npz(const std::string& path);

}  // namespace sfvu
