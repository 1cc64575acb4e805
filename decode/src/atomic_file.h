// Private: writes a file under a temporary name in the same directory, then renames it into
// place, so readers (and a crash) never see a half-written file. Used by the safetensors and
// npz writers. Errors throw IoError naming the final path.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "sfvu/base/error.h"

namespace sfvu::detail {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    static std::atomic<unsigned> counter{0};
    temp_path_ = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create temporary file " + temp_path_);
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write failed");
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  void write(const std::string& s) { write(s.data(), s.size()); }

  /// Flushes to disk and renames the temporary file to the final path.
  void commit() {
    // fsync before rename: otherwise a power loss can leave the new name on empty data.
    if (::fsync(fd_) != 0) fail("fsync failed");
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("close failed");
    if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
      fail("cannot rename " + temp_path_ + " into place");
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw IoError(path_ + ": " + what + ": " + std::strerror(errno));
  }
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Appends `v` little-endian in `n_bytes` bytes.
inline void put_le(std::string& out, uint64_t v, int n_bytes) {
  for (int i = 0; i < n_bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

/// Reads `n_bytes` little-endian bytes at `p`.
inline uint64_t get_le(const uint8_t* p, int n_bytes) {
  uint64_t v = 0;
  for (int i = n_bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace sfvu::detail
