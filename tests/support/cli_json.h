// JSON-lines helpers for the CLI contract tests (header-only: only they link nlohmann).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace sfvu::test {

/// Each non-empty line of `text` parsed as JSON (ordered_json keeps key order for contracts).
template <typename Json = nlohmann::json>
std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> out;
  for (const auto& line : nonempty_lines(text)) out.push_back(Json::parse(line));
  return out;
}

/// The keys of object `j`, in its order.
template <typename Json>
std::vector<std::string> json_keys(const Json& j) {
  std::vector<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
  return k;
}

}  // namespace sfvu::test
