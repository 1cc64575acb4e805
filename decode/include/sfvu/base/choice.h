// sfvu/base/choice.h: the one message for a value that must be one of a few names.
#pragma once

#include <initializer_list>
#include <string>

namespace sfvu {

/// What is wrong with `value` as one of `names`, or "" when it is one of them:
/// "must be 'a' or 'b', not 'x'" (more names: "must be one of 'a', 'b', or 'c', not 'x'").
/// The caller prefixes the key or flag and throws (sfvu/base/error.h): FormatError for a
/// config file, UsageError for a command-line flag.
inline std::string choice_problem(const std::string& value, std::initializer_list<const char*> names) {
  std::string list;
  size_t i = 0;
  for (const char* name : names) {
    if (value == name) return "";
    const char* before = i == 0 ? "'" : i + 1 < names.size() ? ", '" : names.size() == 2 ? " or '" : ", or '";
    list += before + std::string(name) + "'";
    ++i;
  }
  return (names.size() > 2 ? "must be one of " : "must be ") + list + ", not '" + value + "'";
}

}  // namespace sfvu
