#include "condition.h"

#include <algorithm>

#include "error.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

json literal(std::string text) {
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front())
    return text.substr(1, text.size() - 2);
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  return text;
}

template <typename T>
bool compare(const T& a, const std::string& op, const T& b) {
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  if (op == "==") return a == b;
  return a != b;
}

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Where `needle` first appears at or after `from` outside '...' and "...":
// a quoted value may hold && or < ('note == "a && b"').
size_t find_unquoted(const std::string& s, const std::string& needle, size_t from) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (quote) {
      if (s[i] == quote) quote = 0;
      continue;
    }
    if (s[i] == '"' || s[i] == '\'') {
      quote = s[i];
      continue;
    }
    if (i >= from && s.compare(i, needle.size(), needle) == 0) return i;
  }
  return std::string::npos;
}

}  // namespace

Condition Condition::parse(const std::string& text, const std::string& source) {
  Condition c;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t amp = find_unquoted(text, "&&", start);
    const std::string part = trim(text.substr(start, amp == std::string::npos ? std::string::npos : amp - start));
    size_t at = std::string::npos, len = 0;
    for (const char* op : {"<=", ">=", "==", "!=", "<", ">"}) {
      const size_t p = find_unquoted(part, op, 0);
      if (p != std::string::npos && (at == std::string::npos || p < at)) at = p, len = std::string(op).size();
    }
    if (part.empty() || at == std::string::npos || at == 0 || at + len >= part.size())
      throw Error(source + ": '" + part + "' is not a comparison; write <name> <op> <value> with "
                  "op one of < <= > >= == !=, joined by && (e.g. \"test/esr < 0.01 && epoch >= 3\")");
    c.all_.push_back({trim(part.substr(0, at)), part.substr(at, len), literal(trim(part.substr(at + len)))});
    if (amp == std::string::npos) break;
    start = amp + 2;
  }
  return c;
}

bool Condition::holds(const Lookup& lookup) const {
  for (const auto& cmp : all_) {
    const std::optional<json> v = lookup(cmp.name);
    if (!v || v->is_null()) return false;
    const bool ok = v->is_number() && cmp.value.is_number()
                        ? compare(v->get<double>(), cmp.op, cmp.value.get<double>())
                        : compare(text_of(*v), cmp.op, text_of(cmp.value));
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> Condition::names() const {
  std::vector<std::string> out;
  for (const auto& c : all_)
    if (std::find(out.begin(), out.end(), c.name) == out.end()) out.push_back(c.name);
  return out;
}

}  // namespace cadenza
