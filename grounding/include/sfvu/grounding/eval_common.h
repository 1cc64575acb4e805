// sfvu/grounding/eval_common.h: reading benchmark files line by line with errors that name
// the file, the line and the field (issue 6 "Bad input").
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace sfvu::grounding {

/// Calls `fn(line_json, line_number)` for every non-blank line of a JSON-lines file. A line
/// that is not a JSON object throws FormatError "<file>:<line>: not a JSON object (...)";
/// a missing file throws IoError naming it.
void for_each_json_line(const std::string& path, const std::function<void(const nlohmann::json&, int64_t)>& fn);

/// j[key] or FormatError "<file>:<line>: missing field '<key>'".
const nlohmann::json& require_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                                    int64_t line);

/// The value rounded as Python's round(x, digits) on a float (half-to-even on the binary value).
double python_round(double x, int digits);

}  // namespace sfvu::grounding
