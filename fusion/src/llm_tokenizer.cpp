#include "sfvu/fusion/llm_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "sfvu/base/error.h"
#include "tokenizer_folder.h"

namespace sfvu::fusion {
namespace detail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kOwner = "LlmTokenizer";

// The JSON of `path`, null when the file does not exist. `skip_model` leaves out the top-level
// "model" of tokenizer.json (Qwen2's holds 150k tokens and merges that vocab.json and
// merges.txt hold again), so it is parsed but never built.
json read_json(const std::string& path, bool skip_model = false) {
  if (!fs::exists(path)) return nullptr;
  const std::string content = read_file(path, kOwner);
  json::parser_callback_t skip = [](int depth, json::parse_event_t event, json& parsed) {
    return !(depth == 1 && event == json::parse_event_t::key && parsed == "model");
  };
  try {
    return skip_model ? json::parse(content, skip) : json::parse(content);
  } catch (const json::exception& e) {
    throw FormatError(std::string(kOwner) + ": " + path + " is not valid JSON: " + e.what());
  }
}

bool flag(const json& entry, const char* key, const std::string& where) {
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw FormatError(where + ": \"" + key + "\" must be true or false");
  return it->get<bool>();
}

// One AddedToken object; `where` names the file and key for errors.
AddedToken added_token(const json& entry, int64_t id, const std::string& where) {
  if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string()) {
    throw FormatError(where + ": expected an object with a string \"content\"");
  }
  if (id < 0) throw FormatError(where + ": id " + std::to_string(id) + " is negative");
  AddedToken token;
  token.content = entry["content"].get<std::string>();
  if (token.content.empty()) throw FormatError(where + ": \"content\" is empty");
  token.id = id;
  token.special = flag(entry, "special", where);
  token.lstrip = flag(entry, "lstrip", where);
  token.rstrip = flag(entry, "rstrip", where);
  return token;
}

}  // namespace

std::string read_file(const std::string& path, const std::string& owner) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(owner + ": cannot open '" + path + "': " + std::strerror(errno));
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(owner + ": error reading '" + path + "'");
  return content;
}

bool is_python_space(uint32_t code_point) {
  auto c = UChar32(code_point);
  if (U_GET_GC_MASK(c) & U_GC_ZS_MASK) return true;
  UCharDirection d = u_charDirection(c);
  return d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR || d == U_SEGMENT_SEPARATOR;
}

namespace {

std::string_view lstrip_python(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = int32_t(s.size());
  int32_t i = 0;
  while (i < n) {
    int32_t next = i;
    UChar32 c;
    U8_NEXT_OR_FFFD(p, next, n, c);
    if (!is_python_space(uint32_t(c))) break;
    i = next;
  }
  return s.substr(size_t(i));
}

std::string_view rstrip_python(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  auto end = int32_t(s.size());
  while (end > 0) {
    int32_t prev = end;
    UChar32 c;
    U8_PREV_OR_FFFD(p, 0, prev, c);
    if (!is_python_space(uint32_t(c))) break;
    end = prev;
  }
  return s.substr(0, size_t(end));
}

}  // namespace

// ---- AddedTokens ----

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  std::sort(tokens_.begin(), tokens_.end(),
            [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_id_.emplace(tokens_[i].id, i);
    by_content_.emplace(tokens_[i].content, i);
    first_byte_[uint8_t(tokens_[i].content[0])] = true;
  }
}

std::vector<AddedTokens::Segment> AddedTokens::split(std::string_view text) const {
  std::vector<Segment> segments;
  size_t text_start = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken* best = nullptr;
    if (first_byte_[uint8_t(text[i])]) {
      for (const AddedToken& t : tokens_) {
        if ((best == nullptr || t.content.size() > best->content.size()) &&
            text.compare(i, t.content.size(), t.content) == 0) {
          best = &t;
        }
      }
    }
    if (best == nullptr) {
      ++i;
      continue;
    }
    segments.push_back({text.substr(text_start, i - text_start), nullptr});
    segments.push_back({best->content, best});
    i += best->content.size();
    text_start = i;
  }
  segments.push_back({text.substr(text_start), nullptr});
  for (size_t k = 0; k < segments.size(); ++k) {
    const AddedToken* t = segments[k].token;
    if (t == nullptr) continue;
    if (t->rstrip && k + 1 < segments.size() && segments[k + 1].token == nullptr) {
      segments[k + 1].text = lstrip_python(segments[k + 1].text);
    }
    if (t->lstrip && k > 0 && segments[k - 1].token == nullptr) {
      segments[k - 1].text = rstrip_python(segments[k - 1].text);
    }
  }
  segments.erase(std::remove_if(segments.begin(), segments.end(),
                                [](const Segment& s) { return s.token == nullptr && s.text.empty(); }),
                 segments.end());
  return segments;
}

const AddedToken* AddedTokens::find(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

int64_t AddedTokens::id_of(const std::string& content) const {
  auto it = by_content_.find(content);
  return it == by_content_.end() ? -1 : tokens_[it->second].id;
}

int64_t AddedTokens::max_id() const { return tokens_.empty() ? -1 : tokens_.back().id; }

// ---- TokenizerFolder ----

std::string TokenizerFolder::path(const std::string& file) const { return (fs::path(dir) / file).string(); }

void TokenizerFolder::add_if_absent(const AddedToken& token) {
  for (const AddedToken& t : added_tokens) {
    if (t.content == token.content || t.id == token.id) return;
  }
  added_tokens.push_back(token);
  std::sort(added_tokens.begin(), added_tokens.end(),
            [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
}

std::string TokenizerFolder::config_token(const std::string& key, const std::string& fallback) const {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  throw FormatError(std::string(kOwner) + ": " + path("tokenizer_config.json") + ": \"" + key +
                    "\" must be a string or an object with \"content\"");
}

TokenizerFolder TokenizerFolder::read(const std::string& dir, bool settings_from_tokenizer_json) {
  TokenizerFolder folder;
  folder.dir = dir;
  const std::string config_path = folder.path("tokenizer_config.json");
  const std::string tokenizer_json_path = folder.path("tokenizer.json");
  const std::string added_json_path = folder.path("added_tokens.json");
  folder.config = read_json(config_path);
  if (settings_from_tokenizer_json || !folder.config.is_object() ||
      !folder.config.contains("added_tokens_decoder")) {
    folder.tokenizer_json = read_json(tokenizer_json_path, /*skip_model=*/true);
  }
  const json added_json = read_json(added_json_path);

  std::map<int64_t, AddedToken> by_id;
  auto add = [&](AddedToken token) { by_id.emplace(token.id, std::move(token)); };
  const std::string where_config = std::string(kOwner) + ": " + config_path;
  if (!folder.config.is_null() && !folder.config.is_object()) {
    throw FormatError(where_config + " must be a JSON object");
  }
  if (folder.config.is_object() && folder.config.contains("added_tokens_decoder")) {
    const json& decoder = folder.config["added_tokens_decoder"];
    if (!decoder.is_object()) {
      throw FormatError(where_config + ": \"added_tokens_decoder\" must be an object");
    }
    for (const auto& [key, entry] : decoder.items()) {
      const std::string where = where_config + ": added_tokens_decoder \"" + key + "\"";
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(key, &used);
        if (used != key.size()) id = -1;
      } catch (const std::exception&) {
      }
      if (id < 0) throw FormatError(where + ": the key must be a non-negative integer id");
      add(added_token(entry, id, where));
    }
  }
  const std::string where_tj = std::string(kOwner) + ": " + tokenizer_json_path;
  if (!folder.tokenizer_json.is_null() && !folder.tokenizer_json.is_object()) {
    throw FormatError(where_tj + " must be a JSON object");
  }
  if (folder.tokenizer_json.is_object() && folder.tokenizer_json.contains("added_tokens")) {
    const json& list = folder.tokenizer_json["added_tokens"];
    if (!list.is_array() && !list.is_null()) {
      throw FormatError(where_tj + ": \"added_tokens\" must be a list");
    }
    for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
      const std::string where = where_tj + ": added_tokens[" + std::to_string(i) + "]";
      const json& entry = list[i];
      if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer()) {
        throw FormatError(where + ": expected an object with an integer \"id\"");
      }
      add(added_token(entry, entry["id"].get<int64_t>(), where));
    }
  }
  if (!added_json.is_null()) {
    if (!added_json.is_object()) {
      throw FormatError(std::string(kOwner) + ": " + added_json_path + " must be a JSON object");
    }
    for (const auto& [content, id] : added_json.items()) {
      const std::string where = std::string(kOwner) + ": " + added_json_path + ": \"" + content + "\"";
      if (!id.is_number_integer()) throw FormatError(where + ": the id must be an integer");
      add(added_token(json{{"content", content}}, id.get<int64_t>(), where));
    }
  }
  for (auto& [id, token] : by_id) folder.added_tokens.push_back(std::move(token));
  return folder;
}

}  // namespace detail

std::unique_ptr<LlmTokenizer> LlmTokenizer::from_pretrained(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) {
    throw IoError("LlmTokenizer: model folder '" + dir + "' does not exist or is not a folder");
  }
  const fs::path root(dir);
  if (fs::exists(root / "tokenizer.model")) {
    return detail::load_llama_tokenizer(
        detail::TokenizerFolder::read(dir, /*settings_from_tokenizer_json=*/true));
  }
  const bool has_vocab = fs::exists(root / "vocab.json");
  const bool has_merges = fs::exists(root / "merges.txt");
  if (has_vocab && has_merges) {
    return detail::load_qwen2_tokenizer(
        detail::TokenizerFolder::read(dir, /*settings_from_tokenizer_json=*/false));
  }
  std::string found = has_vocab    ? " (only vocab.json is there)"
                      : has_merges ? " (only merges.txt is there)"
                                   : "";
  throw IoError("LlmTokenizer: '" + dir + "' has no tokenizer: expected tokenizer.model (Llama) or " +
                "vocab.json + merges.txt (Qwen2)" + found);
}

// ---- StreamingDecoder ----

namespace {

// Length of the tail of `bytes` that is the start of a UTF-8 character still missing bytes
// (0 when the text ends on a complete character or on bytes that can never complete).
size_t incomplete_utf8_tail(const std::string& bytes) {
  const size_t n = bytes.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    auto b = uint8_t(bytes[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

std::string StreamingDecoder::push(int64_t id) {
  if (tokenizer_.is_special(id)) return "";
  pending_ += tokenizer_.token_bytes(id);
  if (first_ && !pending_.empty()) {
    first_ = false;
    if (tokenizer_.decode_drops_first_space() && pending_[0] == ' ') pending_.erase(0, 1);
  }
  const size_t keep = incomplete_utf8_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string valid_utf8(std::string_view s) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += char(c);
      ++i;
      continue;
    }
    // Continuation bytes and the allowed range of the first one (Unicode Table 3-7).
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    size_t j = i + 1;
    int k = 0;
    for (; k < need && j < s.size(); ++k, ++j) {
      const auto d = static_cast<unsigned char>(s[j]);
      if (d < (k == 0 ? lo : 0x80) || d > (k == 0 ? hi : 0xBF)) break;
    }
    if (need > 0 && k == need) out.append(s.substr(i, j - i));
    else out += kReplacement;
    i = need == 0 ? i + 1 : j;
  }
  return out;
}

std::string StreamingDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace sfvu::fusion
