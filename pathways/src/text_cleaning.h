// text_cleaning.h (private): the Unicode half of ClipTokenizer, the part OpenAI's
// simple_tokenizer.py does with Python strings and the `regex` module. Needs ICU, not torch.
//
// Text is handled as UTF-32 (one char32_t per code point) between the UTF-8 edges, because
// every rule below (Python's str methods, the split pattern) is defined per code point.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sfvu::pathways::text_cleaning {

/// UTF-8 -> code points. Each ill-formed subsequence becomes one U+FFFD (the input of
/// clip.tokenize is a Python str, which cannot be ill-formed, so there is nothing to match).
std::u32string decode_utf8(std::string_view utf8);
std::string encode_utf8(std::u32string_view text);

/// Python's html.unescape() (one pass): decimal, hex and HTML5 named references, with
/// Python's rules for legacy names without ';' and for invalid numeric references.
std::u32string html_unescape(std::u32string_view text);

/// OpenAI's whitespace_clean(basic_clean(text)).lower() minus ftfy: html_unescape twice,
/// strip, collapse whitespace runs to ' ', strip, Python str.lower().
std::u32string clean(std::string_view utf8);

/// The pre-tokenizer: the next match of
///   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
/// (regex module, IGNORECASE) at or after `pos`, as `regex.findall` finds it. Returns false
/// when there is none; otherwise sets `piece` and moves `pos` past it.
bool next_piece(std::u32string_view text, size_t& pos, std::u32string_view& piece);

}  // namespace sfvu::pathways::text_cleaning
