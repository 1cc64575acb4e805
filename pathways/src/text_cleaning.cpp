#include "text_cleaning.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <iterator>

#include "sfvu/base/error.h"

namespace sfvu::pathways::text_cleaning {
namespace {

struct HtmlEntity {
  std::string_view name;  ///< as in Python's html.entities.html5, e.g. "amp;" or legacy "amp"
  std::string_view utf8;  ///< replacement text
};
struct CharrefRemap {
  char32_t from;
  char32_t to;
};
#include "html_entities.inc"

constexpr char32_t kReplacementChar = 0xFFFD;
constexpr char32_t kMaxCodePoint = 0x10FFFF;

UChar32 u(char32_t c) { return static_cast<UChar32>(c); }

// Python's str.isspace(), the set str.strip() removes: general category Zs or bidirectional
// class WS, B or S. Unlike Unicode White_Space this includes U+001C..U+001F.
bool is_python_space(char32_t c) {
  if (U_GET_GC_MASK(u(c)) & U_GC_ZS_MASK) return true;
  UCharDirection d = u_charDirection(u(c));
  return d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR || d == U_SEGMENT_SEPARATOR;
}

// \s of the `regex` module (simple_tokenizer.py does `import regex as re`, for both
// whitespace_clean and the split): Unicode White_Space, so U+001C..U+001F are NOT spaces here.
bool is_regex_space(char32_t c) { return u_isUWhiteSpace(u(c)); }
bool is_letter(char32_t c) { return (U_GET_GC_MASK(u(c)) & U_GC_L_MASK) != 0; }  // \p{L}
bool is_number(char32_t c) { return (U_GET_GC_MASK(u(c)) & U_GC_N_MASK) != 0; }  // \p{N}

bool in_space_letter_number(UChar32 c) {
  return u_isUWhiteSpace(c) || (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_N_MASK)) != 0;
}

// [^\s\p{L}\p{N}] as the regex module matches it under IGNORECASE: a character is left out
// when any of its case variants is in the set. This matters for U+0345 (Mn, upper-cases to
// U+0399): it matches no alternative of the pattern, so findall skips it like whitespace.
bool is_symbol(char32_t c) {
  UChar32 x = u(c);
  return !(in_space_letter_number(x) || in_space_letter_number(u_tolower(x)) ||
           in_space_letter_number(u_toupper(x)) || in_space_letter_number(u_totitle(x)) ||
           in_space_letter_number(u_foldCase(x, U_FOLD_CASE_DEFAULT)));
}

// ---- HTML references (Python's html.unescape) ----

bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }

int digit_value(char32_t c, int base) {
  if (is_ascii_digit(c)) return int(c - U'0');
  if (base == 16 && c >= U'a' && c <= U'f') return int(c - U'a') + 10;
  if (base == 16 && c >= U'A' && c <= U'F') return int(c - U'A') + 10;
  return -1;
}

// Characters that end a name in Python's pattern [^\t\n\f <&#;]{1,32}.
bool ends_entity_name(char32_t c) {
  return c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' ||
         c == U'#' || c == U';';
}

const HtmlEntity* find_entity(std::u32string_view name) {
  std::string key;
  for (char32_t c : name) {
    if (c >= 0x80) return nullptr;  // all names are ASCII
    key += static_cast<char>(c);
  }
  auto it = std::lower_bound(std::begin(kHtml5Entities), std::end(kHtml5Entities), key,
                             [](const HtmlEntity& e, const std::string& k) { return e.name < k; });
  return it != std::end(kHtml5Entities) && it->name == key ? &*it : nullptr;
}

void append_utf8(std::string_view utf8, std::u32string& out) { out += decode_utf8(utf8); }

// Python's _replace_charref for "&#...": remapped (0, CR, windows-1252 0x80..0x9F), then
// surrogates and out-of-range -> U+FFFD, then noncharacters/controls dropped.
void append_numeric_reference(uint32_t num, std::u32string& out) {
  for (const CharrefRemap& r : kRemappedCharrefs) {
    if (r.from == num) {
      out += r.to;
      return;
    }
  }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > kMaxCodePoint) {
    out += kReplacementChar;
  } else if (!std::binary_search(std::begin(kDroppedCharrefs), std::end(kDroppedCharrefs),
                                 char32_t(num))) {
    out += char32_t(num);
  }
}

// Python's _charref pattern &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?) at the
// character after '&' (`pos`). Appends the replacement and returns the end of the match, or
// returns npos (nothing appended) when the pattern does not match here.
size_t replace_reference(std::u32string_view s, size_t pos, std::u32string& out) {
  const size_t n = s.size();
  if (pos < n && s[pos] == U'#') {
    size_t k = pos + 1;
    int base = 10;
    if (k + 1 < n && (s[k] == U'x' || s[k] == U'X') && digit_value(s[k + 1], 16) >= 0) {
      base = 16;
      ++k;
    } else if (k >= n || !is_ascii_digit(s[k])) {
      return std::u32string_view::npos;  // the name alternative excludes '#'
    }
    // Saturate: anything past U+10FFFF becomes U+FFFD. (Python raises ValueError for a
    // decimal reference of more than 4300 digits; we give U+FFFD there too.)
    uint32_t num = 0;
    for (int d; k < n && (d = digit_value(s[k], base)) >= 0; ++k) {
      num = std::min<uint32_t>(num * base + uint32_t(d), kMaxCodePoint + 1);
    }
    if (k < n && s[k] == U';') ++k;
    append_numeric_reference(num, out);
    return k;
  }
  size_t k = pos;
  while (k < n && k - pos < 32 && !ends_entity_name(s[k])) ++k;
  if (k == pos) return std::u32string_view::npos;
  if (k < n && s[k] == U';') ++k;
  std::u32string_view name = s.substr(pos, k - pos);  // with its ';', if any
  if (const HtmlEntity* e = find_entity(name)) {
    append_utf8(e->utf8, out);
    return k;
  }
  // The longest prefix (at least 2 characters) that is a name: only legacy names, which have
  // no ';', can match, e.g. "&notit;" -> "¬it;".
  for (size_t len = name.size() - 1; len >= 2; --len) {
    if (const HtmlEntity* e = find_entity(name.substr(0, len))) {
      append_utf8(e->utf8, out);
      out += name.substr(len);
      return k;
    }
  }
  out += U'&';
  out += name;
  return k;
}

// ---- Whitespace and case ----

std::u32string_view strip_python(std::u32string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_python_space(s[b])) ++b;
  while (e > b && is_python_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Python's str.lower(): full lower-case mappings, with U+03A3 -> U+03C2 in the Final_Sigma
// context. ICU's root locale does exactly that (no Turkish/Lithuanian tailoring).
std::u32string python_lower(std::u32string_view text) {
  std::basic_string<UChar> src;
  src.reserve(text.size());
  for (char32_t c : text) {
    if (c <= 0xFFFF) {
      src += static_cast<UChar>(c);
    } else {
      src += static_cast<UChar>(U16_LEAD(c));
      src += static_cast<UChar>(U16_TRAIL(c));
    }
  }
  if (src.size() > size_t(INT32_MAX / 4)) throw UsageError("ClipTokenizer: text too long");
  std::basic_string<UChar> dst(src.size() + 16, 0);
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = u_strToLower(dst.data(), int32_t(dst.size()), src.data(), int32_t(src.size()),
                             "", &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {  // lower-casing can grow the text (U+0130: 1 -> 2)
    dst.assign(size_t(len), 0);
    status = U_ZERO_ERROR;
    len = u_strToLower(dst.data(), len, src.data(), int32_t(src.size()), "", &status);
  }
  if (U_FAILURE(status)) {
    throw Error(std::string("ClipTokenizer: ICU u_strToLower failed: ") + u_errorName(status));
  }
  std::u32string out;
  out.reserve(size_t(len));
  for (int32_t i = 0; i < len;) {
    UChar32 c;
    U16_NEXT(dst.data(), i, len, c);
    out += char32_t(c);
  }
  return out;
}

constexpr std::string_view kLiterals[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re",
                                          "'ve", "'m", "'ll", "'d"};

// Length of `literal` (ASCII, lower-case) at text[pos] under IGNORECASE, or 0. Case folding
// makes U+017F (long s) match 's', as the regex module does.
size_t match_literal(std::u32string_view text, size_t pos, std::string_view literal) {
  if (text.size() - pos < literal.size()) return 0;
  for (size_t i = 0; i < literal.size(); ++i) {
    char32_t c = text[pos + i];
    if (c != char32_t(literal[i]) &&
        u_foldCase(u(c), U_FOLD_CASE_DEFAULT) != UChar32(literal[i])) {
      return 0;
    }
  }
  return literal.size();
}

}  // namespace

std::u32string decode_utf8(std::string_view utf8) {
  if (utf8.size() > size_t(INT32_MAX)) throw UsageError("ClipTokenizer: text too long");
  const auto* s = reinterpret_cast<const uint8_t*>(utf8.data());
  const auto n = int32_t(utf8.size());
  std::u32string out;
  out.reserve(utf8.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT_OR_FFFD(s, i, n, c);
    out += char32_t(c);
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += char(0xE0 | (c >> 12));
      out += char(0x80 | ((c >> 6) & 0x3F));
      out += char(0x80 | (c & 0x3F));
    } else {
      out += char(0xF0 | (c >> 18));
      out += char(0x80 | ((c >> 12) & 0x3F));
      out += char(0x80 | ((c >> 6) & 0x3F));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::u32string html_unescape(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] == U'&') {
      size_t end = replace_reference(text, i + 1, out);
      if (end != std::u32string_view::npos) {
        i = end;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

std::u32string clean(std::string_view utf8) {
  // ftfy.fix_text() would come first: Note [ftfy] in clip_tokenizer.cpp.
  std::u32string unescaped = html_unescape(html_unescape(decode_utf8(utf8)));
  std::u32string collapsed;
  bool in_space = false;
  for (char32_t c : strip_python(unescaped)) {  // re.sub(r'\s+', ' ', text)
    if (is_regex_space(c)) {
      if (!in_space) collapsed += U' ';
      in_space = true;
    } else {
      collapsed += c;
      in_space = false;
    }
  }
  return python_lower(strip_python(collapsed));
}

bool next_piece(std::u32string_view text, size_t& pos, std::u32string_view& piece) {
  const size_t n = text.size();
  for (; pos < n; ++pos) {  // positions where no alternative matches are skipped
    size_t len = 0;
    for (std::string_view literal : kLiterals) {
      if ((len = match_literal(text, pos, literal)) != 0) break;
    }
    if (len == 0) {
      char32_t c = text[pos];
      if (is_letter(c)) {
        for (len = 1; pos + len < n && is_letter(text[pos + len]);) ++len;
      } else if (is_number(c)) {
        len = 1;
      } else if (is_symbol(c)) {
        for (len = 1; pos + len < n && is_symbol(text[pos + len]);) ++len;
      }
    }
    if (len != 0) {
      piece = text.substr(pos, len);
      pos += len;
      return true;
    }
  }
  return false;
}

}  // namespace sfvu::pathways::text_cleaning
