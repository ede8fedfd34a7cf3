#include "toml_limits.h"

#include "error.h"

namespace cadenza {

namespace {

// Where the scanner is, for messages.
struct Cursor {
  const std::string& text;
  const std::string& file;
  size_t i = 0;
  int line = 1, column = 1;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(SourcePos{file, line, column}.str() + ": " + why);
  }
  void advance() {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;  // one per character, not per byte
    }
    ++i;
  }
};

// Length of the UTF-8 sequence at `i`, or 0 when it is not well-formed
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  const auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

void check_utf8(Cursor& at) {
  const std::string& s = at.text;
  while (at.i < s.size()) {
    const size_t n = utf8_length(s, at.i);
    if (n == 0) at.fail("the file is not valid UTF-8 here (TOML files must be UTF-8); re-save it as UTF-8");
    if (s[at.i] == '\0') at.fail("a NUL byte; TOML files cannot contain one");
    for (size_t k = 0; k < n; ++k) at.advance();
  }
}

// Skips a string starting at the cursor (basic, literal, or multi-line).
void skip_string(Cursor& at) {
  const std::string& s = at.text;
  const char q = s[at.i];
  const bool multi = s.compare(at.i, 3, std::string(3, q)) == 0;
  for (int k = 0; k < (multi ? 3 : 1); ++k) at.advance();
  while (at.i < s.size()) {
    if (q == '"' && s[at.i] == '\\') {
      at.advance();
      if (at.i < s.size()) at.advance();
      continue;
    }
    if (multi ? s.compare(at.i, 3, std::string(3, q)) == 0 : s[at.i] == q) {
      for (int k = 0; k < (multi ? 3 : 1); ++k) at.advance();
      return;
    }
    if (!multi && s[at.i] == '\n') return;  // unterminated: the parser says so
    at.advance();
  }
}

// Nesting: brackets and braces open levels; dots in a key add one each.
// Also: only ASCII outside strings and comments.
void check_nesting(Cursor& at) {
  const std::string& s = at.text;
  int depth = 0, dots = 0;
  while (at.i < s.size()) {
    const char c = s[at.i];
    if (c == '"' || c == '\'') {
      skip_string(at);
      continue;
    }
    if (c == '#') {
      while (at.i < s.size() && s[at.i] != '\n') at.advance();
      continue;
    }
    // TOML 1.0 allows non-ASCII only in strings and comments, and toml++
    // 3.3.0 reaches undefined behaviour classifying some such characters
    // (U+FBB6..U+FEFE) as whitespace: refuse them before it looks.
    if (static_cast<unsigned char>(c) >= 0x80)
      at.fail("a non-ASCII character outside a quoted string or comment; TOML allows only ASCII "
              "in keys and bare values: quote the key or value");
    if (c == '[' || c == '{') ++depth;
    if ((c == ']' || c == '}') && depth > 0) --depth;
    if (c == '.') ++dots;
    if (c == '\n' || c == '=' || c == ',') dots = 0;  // a key's dots end with it
    if (depth + dots > kMaxTomlNesting)
      at.fail("the workflow nests tables, arrays or dotted keys deeper than " + std::to_string(kMaxTomlNesting) +
              " levels; no workflow needs that many: flatten it");
    at.advance();
  }
}

}  // namespace

void check_toml_limits(const std::string& text, const std::string& file) {
  if (text.size() > kMaxWorkflowBytes)
    throw Error(file + ": " + std::to_string(text.size() >> 20) + " MB is too large for a workflow file (at most " +
                std::to_string(kMaxWorkflowBytes >> 20) + " MB); keep data in files the stages read");
  Cursor utf{text, file};
  check_utf8(utf);
  Cursor nest{text, file};
  check_nesting(nest);
}

}  // namespace cadenza
