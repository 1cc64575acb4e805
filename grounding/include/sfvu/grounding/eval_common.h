// sfvu/grounding/eval_common.h: reading benchmark files line by line with errors that name
// the file, the line and the field (issue 6 "Bad input").
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace sfvu::grounding {

/// Calls `fn(line_json, line_number)` for every non-blank line of a JSON-lines file. A line
/// that is not a JSON object throws FormatError "<file>:<line>: not a JSON object (...)";
/// a missing file throws IoError naming it.
void for_each_json_line(const std::string& path, const std::function<void(const nlohmann::json&, int64_t)>& fn);

/// j[key] or FormatError "<file>:<line>: missing field '<key>'".
const nlohmann::json& require_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                                    int64_t line);

/// j["qid"] as an integer, or FormatError "<file>:<line>: field 'qid': must be an integer, got <value>"
/// (or "missing field 'qid'").
int64_t require_integer_qid(const nlohmann::json& j, const std::string& file, int64_t line);

/// The integer qids of one file; add() throws FormatError
/// "<file>:<line>: field 'qid': duplicate qid <qid> (first on line <line>)" on a repeat.
class UniqueQids {
 public:
  explicit UniqueQids(std::string file) : file_(std::move(file)) {}
  void add(int64_t qid, int64_t line);

 private:
  std::string file_;
  std::unordered_map<int64_t, int64_t> line_of_qid_;
};

/// The value rounded as Python's round(x, digits) on a float (half-to-even on the binary value).
double python_round(double x, int digits);

}  // namespace sfvu::grounding
