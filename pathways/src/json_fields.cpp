#include "sfvu/pathways/json_fields.h"

#include <fstream>

namespace sfvu::pathways {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": not valid JSON: " + e.what());
  }
}

}  // namespace sfvu::pathways
