// sfvu/pathways/json_fields.h: reading config files (config.json, tokenizer and model
// folders) with errors that name the file and the key.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "sfvu/base/error.h"

namespace sfvu::pathways {

/// Reads `key` into `out` when present and not null (absent keys keep their defaults); a value
/// of the wrong type is a FormatError naming `where` and the key.
template <typename T>
void read_json_field(const nlohmann::json& j, const char* key, T& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw FormatError(where + ": key '" + key + "' has the wrong type (" + it->dump() + ")");
  }
}

/// The JSON document in `path`: IoError when it cannot be opened, FormatError naming it when
/// it is not valid JSON.
nlohmann::json read_json_file(const std::string& path);

/// Writes `text` to `path` through a temporary file and a rename, so readers never see half a
/// file. Throws IoError naming the file.
void write_text_file_atomic(const std::string& path, const std::string& text);

}  // namespace sfvu::pathways
