#include "params_file.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <regex>

#include "error.h"
#include "fs_util.h"
#include "toml_limits.h"
#include "toml_values.h"

namespace cadenza {

using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

ParamsFormat format_of(const std::string& name) {
  if (ends_with(name, ".json")) return ParamsFormat::kJson;
  if (ends_with(name, ".toml")) return ParamsFormat::kToml;
  return ParamsFormat::kYaml;
}

// A plain YAML scalar's value under the YAML 1.2 core schema (what PyYAML
// and ruamel read the same way for the values params files hold).
json resolve_plain(const std::string& s) {
  static const std::regex int_re("[-+]?[0-9]+"), hex_re("0x[0-9a-fA-F]+"), oct_re("0o[0-7]+");
  static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (std::regex_match(s, int_re)) return static_cast<int64_t>(std::stoll(s));
    if (std::regex_match(s, hex_re)) return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, 16));
    if (std::regex_match(s, oct_re)) return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, 8));
  } catch (const std::out_of_range&) {
    return std::stod(s);
  }
  if (std::regex_match(s, float_re)) return std::stod(s);
  if (s == ".inf" || s == "+.inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}


std::string where_in(const std::string& name, int line0, int col0) {
  return name + ":" + std::to_string(line0 + 1) + ":" + std::to_string(col0 + 1);
}

YAML::Node load_yaml(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(where_in(name, e.mark.line, e.mark.column) + ": not valid YAML: " + e.msg);
  }
}

json parse_document(const std::string& text, const std::string& name, ParamsFormat format) {
  if (format == ParamsFormat::kJson) {
    try {
      return json::parse(text);
    } catch (const json::parse_error& e) {
      throw Error(name + ": not valid JSON: " + e.what());
    }
  }
  if (format == ParamsFormat::kToml) {
    try {
      check_toml_limits(text, name);
      return toml_to_json(toml::parse(text, name));
    } catch (const toml::parse_error& e) {
      throw Error(name + ":" + std::to_string(e.source().begin.line) + ":" +
                  std::to_string(e.source().begin.column) + ": not valid TOML: " + std::string(e.description()));
    }
  }
  const json doc = yaml_to_json(load_yaml(text, name));
  return doc.is_null() ? json::object() : doc;
}

json::json_pointer pointer_of(const std::string& key) {
  std::string p;
  for (const auto& part : split_key(key)) {
    p += "/";
    for (char c : part) p += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
  }
  return json::json_pointer(p);
}

std::string keys_of(const json& section) {
  std::string out;
  if (section.is_object())
    for (const auto& [k, v] : section.items()) out += (out.empty() ? "" : ", ") + k;
  if (section.is_array()) out = "0 to " + std::to_string(static_cast<long>(section.size()) - 1);
  return out.empty() ? "none" : out;
}

// The shortest text that reads back as `v`, with a '.' and a signed
// exponent, so YAML 1.1 readers (PyYAML) also read it as a float.
std::string float_text(double v, const std::string& what) {
  if (!std::isfinite(v)) throw Error(what + ": a params file value must be a finite number");
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  const size_t e = s.find('e');
  if (s.find('.') == std::string::npos) s.insert(e == std::string::npos ? s.size() : e, ".0");
  return s;
}

std::string type_word(const json& v) {
  if (v.is_boolean()) return "a bool";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a float";
  if (v.is_string()) return "a string";
  if (v.is_null()) return "null";
  return v.is_array() ? "a list" : "a section";
}

// A string's text as a YAML plain scalar, when it would read back as that
// same string; empty when it must be quoted.
std::string yaml_plain(const std::string& s) {
  if (s.empty() || !resolve_plain(s).is_string() || std::isspace(static_cast<unsigned char>(s.front())) ||
      std::isspace(static_cast<unsigned char>(s.back())) ||
      std::string("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string::npos ||
      s.find(": ") != std::string::npos || s.find(" #") != std::string::npos ||
      s.find_first_of("\n\r\t,[]{}") != std::string::npos)
    return "";
  return s;
}

std::string single_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// [begin, end) of the scalar whose node starts at `pos` (anchor and tag
// included), by YAML's token rules for the three inline scalar styles.
std::pair<size_t, size_t> yaml_scalar_span(const std::string& t, size_t pos, bool in_flow, const std::string& what) {
  size_t p = pos;
  while (p < t.size() && (t[p] == '&' || t[p] == '!')) {  // an anchor or a tag, then the scalar
    while (p < t.size() && !std::isspace(static_cast<unsigned char>(t[p]))) ++p;
    while (p < t.size() && (t[p] == ' ' || t[p] == '\t')) ++p;
  }
  if (p >= t.size()) throw Error(what + ": cannot find the value in the file to edit it");
  if (t[p] == '|' || t[p] == '>')
    throw Error(what + " is a block scalar (| or >); only one-line values can be edited in place");
  size_t i = p + 1;
  if (t[p] == '"') {
    while (i < t.size() && t[i] != '"') i += t[i] == '\\' ? 2 : 1;
    return {p, i + 1};
  }
  if (t[p] == '\'') {
    while (i < t.size() && !(t[i] == '\'' && (i + 1 >= t.size() || t[i + 1] != '\''))) i += t[i] == '\'' ? 2 : 1;
    return {p, i + 1};
  }
  i = p;
  while (i < t.size() && t[i] != '\n' && t[i] != '\r' &&
         !(t[i] == '#' && i > p && std::isspace(static_cast<unsigned char>(t[i - 1]))) &&
         !(in_flow && (t[i] == ',' || t[i] == ']' || t[i] == '}')))
    ++i;
  while (i > p && (t[i - 1] == ' ' || t[i - 1] == '\t')) --i;
  return {p, i};
}

// Byte offset of a 1-based (line, column in code points) position.
size_t offset_of(const std::string& t, size_t line, size_t column) {
  size_t i = 0;
  for (size_t l = 1; l < line && i < t.size(); ++i)
    if (t[i] == '\n') ++l;
  for (size_t c = 1; c < column && i < t.size(); ++c) {
    ++i;
    while (i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

}  // namespace

json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = yaml_to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar:  // "!": quoted, so a string whatever it reads like
      return node.Tag() == "!" ? json(node.Scalar()) : resolve_plain(node.Scalar());
    default:
      return nullptr;
  }
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

bool ParamsFile::known_format(const std::string& name) {
  return ends_with(name, ".yaml") || ends_with(name, ".yml") || ends_with(name, ".json") ||
         ends_with(name, ".toml");
}

ParamsFile ParamsFile::parse(const std::string& text, const std::string& name) {
  ParamsFile f;
  f.text_ = text;
  f.name_ = name;
  f.format_ = format_of(name);
  f.doc_ = parse_document(text, name, f.format_);
  return f;
}

ParamsFile ParamsFile::read(const std::string& path, const std::string& name) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw Error(name + ": cannot read the params file (" + e.what() + ")");
  }
  return parse(text, name);
}

bool ParamsFile::has(const std::string& key) const {
  try {
    return !key.empty() && doc_.contains(pointer_of(key));
  } catch (const json::exception&) {
    return false;
  }
}

json ParamsFile::value(const std::string& key) const {
  if (has(key)) return doc_.at(pointer_of(key));
  // Name the deepest section that exists and what it holds.
  const auto parts = split_key(key);
  const json* section = &doc_;
  std::string found;
  for (const auto& part : parts) {
    const std::string next = found.empty() ? part : found + "." + part;
    if (!has(next)) break;
    section = &doc_.at(pointer_of(next));
    found = next;
  }
  throw Error(name_ + ": no key '" + key + "' (" + (found.empty() ? "the top level" : "'" + found + "'") +
              " has: " + keys_of(*section) + ")");
}

namespace {

// The new scalar's text, typed like the old value (see the header).
std::string new_scalar_text(const json& old, const json& v, ParamsFormat format, char quote,
                            const std::string& what) {
  if (v.is_object() || v.is_array() || v.is_null())
    throw Error(what + ": only a single value can be set, not " + type_word(v));
  auto mismatch = [&] {
    return Error(what + " is " + type_word(old) + " (" + old.dump() + ") in the file; the new value " + v.dump() +
                 " is " + type_word(v) + ": give " + type_word(old) + ", or edit the file itself to change its type");
  };
  if (old.is_number_integer()) {
    if (!v.is_number_integer()) throw mismatch();
    return v.dump();
  }
  if (old.is_number()) {
    if (!v.is_number()) throw mismatch();
    return float_text(v.get<double>(), what);
  }
  if (old.is_boolean()) {
    if (!v.is_boolean()) throw mismatch();
    return v.dump();
  }
  if (!old.is_string() && !old.is_null()) throw mismatch();
  if (old.is_null() && !v.is_string()) return v.is_number_float() ? float_text(v.get<double>(), what) : v.dump();
  const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (format == ParamsFormat::kYaml && quote == '\'' && s.find_first_of("\n\r") == std::string::npos)
    return single_quoted(s);
  if (format == ParamsFormat::kToml && quote == '\'' && s.find_first_of("'\n\r") == std::string::npos)
    return "'" + s + "'";
  if (format == ParamsFormat::kYaml && quote != '"' && !yaml_plain(s).empty()) return s;
  return json(s).dump();  // a JSON string is a valid YAML double-quoted and TOML basic string
}

// Where the scalar at `parts` is written: [begin, end) in `text`.
std::pair<size_t, size_t> yaml_span(const std::string& text, const std::string& name,
                                    const std::vector<std::string>& parts, const std::string& what) {
  YAML::Node node = load_yaml(text, name);
  bool in_flow = false;
  for (const auto& part : parts) {
    in_flow = node.Style() == YAML::EmitterStyle::Flow;
    YAML::Node next;
    if (node.IsMap()) {
      for (auto kv : node)
        if (kv.first.Scalar() == part) next = kv.second;
    } else if (node.IsSequence()) {
      next = node[std::stoul(part)];
    }
    node = next;
  }
  const YAML::Mark m = node.Mark();
  if (m.pos < 0) throw Error(what + ": cannot find the value in the file to edit it");
  return yaml_scalar_span(text, static_cast<size_t>(m.pos), in_flow, what);
}

std::pair<size_t, size_t> toml_span(const std::string& text, const std::string& name, const std::string& key) {
  const toml::table root = toml::parse(text, name);
  const toml::node* node = root.at_path(key).node();
  const auto& src = node->source();
  return {offset_of(text, src.begin.line, src.begin.column), offset_of(text, src.end.line, src.end.column)};
}

}  // namespace

std::string ParamsFile::edited(const std::string& key, const json& v, const std::string& source) const {
  const std::string what = source + ": " + name_ + " key '" + key + "'";
  const json old = value(key);
  if (old.is_object() || old.is_array())
    throw Error(what + " is " + type_word(old) + " (with " + keys_of(old) +
                "); set one of its values instead, e.g. " + key + "." +
                (old.is_object() && !old.empty() ? old.begin().key() : std::string("0")));
  const auto [begin, end] = format_ == ParamsFormat::kToml ? toml_span(text_, name_, key)
                                                           : yaml_span(text_, name_, split_key(key), what);
  if (begin >= end || end > text_.size()) throw Error(what + ": cannot find the value in the file to edit it");
  const std::string replacement = new_scalar_text(old, v, format_, text_[begin], what);
  const std::string out = text_.substr(0, begin) + replacement + text_.substr(end);
  // The edit must change that one value and nothing else.
  json expected = doc_;
  json after;
  try {
    after = parse_document(out, name_, format_);
    expected[pointer_of(key)] = after.at(pointer_of(key));
  } catch (const std::exception&) {
    throw Error(what + ": an in-place edit would break the file; edit it by hand");
  }
  const json& now = after.at(pointer_of(key));
  const bool same_value = v.is_string() || old.is_string() ? now == json(v.is_string() ? v.get<std::string>() : v.dump())
                                                           : now == v || (now.is_number() && v.is_number() && now.get<double>() == v.get<double>());
  if (after != expected || !same_value)
    throw Error(what + " cannot be edited on its own (it spans lines, or an alias elsewhere shares it); "
                "edit the file by hand");
  return out;
}

}  // namespace cadenza
