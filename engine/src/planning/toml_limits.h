// Bounds a workflow file is checked against before the TOML parser sees it:
// the parser and the conversions after it recurse per nesting level, so a
// hostile or broken file (a header nesting 60,000 tables) must be refused
// rather than crash, and the bytes must be UTF-8 (ASCII outside strings and
// comments), which TOML requires and toml++ 3.3.0 does not always check safely.
#pragma once

#include <cstddef>
#include <string>

namespace cadenza {

constexpr size_t kMaxWorkflowBytes = 8u << 20;  // far above any real workflow
constexpr int kMaxTomlNesting = 64;             // dotted keys, tables and arrays together

// Throws Error naming `file`, the line and column, and the limit.
void check_toml_limits(const std::string& text, const std::string& file);

}  // namespace cadenza
