// sfvu/base/error.h: the failure channel of every sfvu library.
//
// Failures (I/O, corrupt data, bad configuration, bad arguments) throw one of the types
// below. Expected outcomes (end of stream, a skipped corrupt packet, a dropped frame) are
// return values or stats fields, never exceptions. Only main() catches, and maps:
//   UsageError -> exit 2, any other sfvu::Error -> exit 1.
// Every message names the thing it is about (file, tensor, line) and, for FFmpeg
// failures, ends with FFmpeg's own error text.
#pragma once

#include <stdexcept>
#include <string>

namespace sfvu {

/// Base of all sfvu failures.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A file, URL or device could not be opened or read (missing, permission, network).
class IoError : public Error {
 public:
  using Error::Error;
};

/// The input was read but its content is unusable: no video stream, unsupported codec,
/// malformed header, malformed annotation line, wrong tensor shape.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// The caller asked for something impossible (bad option value, conflicting flags).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Thrown when a progress callback asked to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

}  // namespace sfvu
