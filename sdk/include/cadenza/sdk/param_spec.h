// Cadenza SDK — how a stage declares its parameters.
//
// A stage returns its ParamSpecs from Stage::params(). The engine validates
// every stage's params in workflow.toml against them before anything runs
// (unknown key, wrong type, value outside `choices` → an error naming the file,
// line and column), fills in defaults, and hands the stage the resolved
// values as JSON. Only declared params enter the stage's cache key, so a
// stage reruns exactly when a value it uses changes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace cadenza::sdk {

enum class ParamType { kString, kInteger, kFloat, kBool, kStringList };

inline const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::kString: return "string";
    case ParamType::kInteger: return "integer";
    case ParamType::kFloat: return "float";
    case ParamType::kBool: return "bool";
    case ParamType::kStringList: return "string list";
  }
  return "?";
}

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  // The default as JSON text ("0.01", "\"lstm\"", "true", "[]").
  // Empty means the param is required: the workflow must set it.
  std::string default_json;
  std::string description;
  // For kString: the allowed values; empty means any string.
  std::vector<std::string> choices;
  // For kInteger and kFloat: inclusive bounds, checked when has_bounds.
  bool has_bounds = false;
  double min = 0;
  double max = 0;
  // A default that depends on another param (ABI 3): when the param named
  // `default_by` resolves to the JSON value `first` of an entry, the default
  // is that entry's `second` (JSON text) instead of default_json. The engine
  // resolves it before anything runs, so the lock, the experiment records
  // and TensorBoard show the value the stage really used, never a "0 means
  // the family's default" sentinel.
  std::string default_by;
  std::vector<std::pair<std::string, std::string>> defaults_by;

  bool required() const { return default_json.empty(); }

  // Builders, so that a declaration reads as one line.
  static ParamSpec String(std::string name, std::string def, std::string description,
                          std::vector<std::string> choices = {}) {
    ParamSpec p = make(std::move(name), ParamType::kString, quote(def), std::move(description));
    p.choices = std::move(choices);
    return p;
  }
  static ParamSpec Integer(std::string name, int64_t def, std::string description) {
    return make(std::move(name), ParamType::kInteger, std::to_string(def), std::move(description));
  }
  static ParamSpec Float(std::string name, double def, std::string description) {
    return make(std::move(name), ParamType::kFloat, float_text(def), std::move(description));
  }
  static ParamSpec Bool(std::string name, bool def, std::string description) {
    return make(std::move(name), ParamType::kBool, def ? "true" : "false", std::move(description));
  }
  static ParamSpec StringList(std::string name, const std::vector<std::string>& def,
                              std::string description) {
    std::string json = "[";
    for (size_t i = 0; i < def.size(); ++i) json += (i ? "," : "") + quote(def[i]);
    return make(std::move(name), ParamType::kStringList, json + "]", std::move(description));
  }
  // A float the workflow may leave out: the stage then sees null (JSON) and
  // the lock records null. Bounds apply to a given value.
  static ParamSpec OptionalFloat(std::string name, std::string description) {
    return make(std::move(name), ParamType::kFloat, "null", std::move(description));
  }
  // Declares that the stage also takes params it does not name: a script's
  // own, like stage_shell's `lr = 0.01` beside `cmd`. The workflow's value is
  // their declaration: each is typed by it (an override must keep the type),
  // enters the key, the lock and the experiment records like any param, and
  // reaches the stage in params_json(). A record like any other (name "*",
  // no ABI change); engines before it refuse such params as unknown.
  static ParamSpec AnyOther(std::string description) {
    return make(kAnyOtherName, ParamType::kString, "null", std::move(description));
  }
  static constexpr const char* kAnyOtherName = "*";
  bool is_any_other() const { return name == kAnyOtherName; }

  // A param with no default; `type` says what the workflow must give.
  static ParamSpec Required(std::string name, ParamType type, std::string description) {
    return make(std::move(name), type, "", std::move(description));
  }
  ParamSpec& bounds(double lo, double hi) {
    has_bounds = true;
    min = lo;
    max = hi;
    return *this;
  }
  // .default_when("model", "windowed_conv_lstm", 36): the default of this
  // param when the string param `param` is `value`. Several calls must name
  // the same `param`.
  ParamSpec& default_when(std::string param, const std::string& value, double def) {
    default_by = std::move(param);
    defaults_by.emplace_back(quote(value), type == ParamType::kInteger
                                               ? std::to_string(static_cast<int64_t>(def))
                                               : float_text(def));
    return *this;
  }
  ParamSpec& default_when(std::string param, const std::string& value, const char* def) {
    default_by = std::move(param);
    defaults_by.emplace_back(quote(value), quote(def));
    return *this;
  }

 private:
  static ParamSpec make(std::string name, ParamType type, std::string default_json,
                        std::string description) {
    ParamSpec p;
    p.name = std::move(name);
    p.type = type;
    p.default_json = std::move(default_json);
    p.description = std::move(description);
    return p;
  }
  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') { out += "\\n"; continue; }
      out += c;
    }
    return out + "\"";
  }
  // Shortest text that reads back as the same double, always marked as a float.
  static std::string float_text(double v) {
    char buf[32];
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    std::string s = buf;
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }
};

}  // namespace cadenza::sdk
