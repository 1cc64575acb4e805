#include "sfvu/fusion/word_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::fusion {

std::vector<std::string> WordTokenizer::split(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (unsigned char ch : text) {
    if (std::isalnum(ch)) {
      word.push_back(static_cast<char>(std::tolower(ch)));
    } else if (!word.empty()) {
      out.push_back(word);
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

WordTokenizer WordTokenizer::from_texts(const std::vector<std::string>& texts) {
  std::set<std::string> all;
  for (const auto& t : texts)
    for (auto& w : split(t)) all.insert(w);
  return from_words({all.begin(), all.end()});
}

WordTokenizer WordTokenizer::from_words(std::vector<std::string> words) {
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  WordTokenizer t;
  t.words_ = std::move(words);
  return t;
}

WordTokenizer WordTokenizer::from_file(const std::string& path) {
  const nlohmann::json j = pathways::read_json_file(path);
  if (!j.is_object() || j.value("type", "") != "word" || !j.contains("words") || !j["words"].is_array())
    throw FormatError(path + ": expected {\"type\": \"word\", \"words\": [...]}");
  std::vector<std::string> words;
  for (const auto& w : j["words"]) {
    if (!w.is_string()) throw FormatError(path + ": 'words' must hold strings");
    words.push_back(w.get<std::string>());
  }
  return from_words(std::move(words));
}

void WordTokenizer::save(const std::string& path) const {
  pathways::write_text_file_atomic(path, nlohmann::json{{"type", "word"}, {"words", words_}}.dump(1) + "\n");
}

std::vector<int64_t> WordTokenizer::encode(const std::string& text, int max_length) const {
  std::vector<int64_t> ids{kSot};
  for (const auto& w : split(text)) {
    if (static_cast<int>(ids.size()) + 1 >= max_length) break;
    auto it = std::lower_bound(words_.begin(), words_.end(), w);
    ids.push_back(it != words_.end() && *it == w ? 3 + (it - words_.begin()) : kUnk);
  }
  ids.push_back(eot_id());
  return ids;
}

}  // namespace sfvu::fusion
