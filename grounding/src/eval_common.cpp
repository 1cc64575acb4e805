#include "sfvu/grounding/eval_common.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "sfvu/base/error.h"

namespace sfvu::grounding {

void for_each_json_line(const std::string& path, const std::function<void(const nlohmann::json&, int64_t)>& fn) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(path + ":" + std::to_string(n) + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw FormatError(path + ":" + std::to_string(n) + ": not a JSON object");
    fn(j, n);
  }
}

const nlohmann::json& require_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                                    int64_t line) {
  auto it = j.find(key);
  if (it == j.end()) throw FormatError(file + ":" + std::to_string(line) + ": missing field '" + key + "'");
  return *it;
}

int64_t require_integer_qid(const nlohmann::json& j, const std::string& file, int64_t line) {
  const nlohmann::json& q = require_field(j, "qid", file, line);
  if (!q.is_number_integer())
    throw FormatError(file + ":" + std::to_string(line) + ": field 'qid': must be an integer, got " + q.dump());
  return q.get<int64_t>();
}

void UniqueQids::add(int64_t qid, int64_t line) {
  auto [it, added] = line_of_qid_.emplace(qid, line);
  if (!added)
    throw FormatError(file_ + ":" + std::to_string(line) + ": field 'qid': duplicate qid " + std::to_string(qid) +
                      " (first on line " + std::to_string(it->second) + ")");
}

double python_round(double x, int digits) {
  // Python rounds the exact binary value correctly (half-to-even only on true ties); printing
  // with enough digits and re-reading reproduces that for the 2-4 digits the evaluators use.
  if (!std::isfinite(x)) return x;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);  // glibc rounds the exact binary value
  return std::strtod(buf, nullptr);
}

}  // namespace sfvu::grounding
