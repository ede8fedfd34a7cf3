#include "overrides.h"

#include "toml_include.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "fs_util.h"
#include "error.h"
#include "hash.h"
#include "toml_limits.h"

namespace cadenza {

using nlohmann::json;

namespace {

json value_of(const toml::node& node) {
  if (auto* a = node.as_array()) {
    json out = json::array();
    for (auto&& item : *a) out.push_back(value_of(item));
    return out;
  }
  if (node.is_integer()) return node.value<int64_t>().value();
  if (node.is_floating_point()) return node.value<double>().value();
  if (node.is_boolean()) return node.value<bool>().value();
  if (node.is_string()) return node.value<std::string>().value();
  return node.visit([](auto&& v) {  // tables, dates: as TOML writes them
    std::ostringstream s;
    s << v;
    return s.str();
  });
}

// A TOML value, or the text itself as a string.
json parse_value(const std::string& text) {
  try {
    check_toml_limits("v = " + text, "--set value");
    const toml::table t = toml::parse("v = " + text);
    return value_of(*t.get("v"));
  } catch (const toml::parse_error&) {
    return text;
  }
}

std::pair<std::string, std::string> split_assignment(const std::string& arg, const std::string& flag) {
  const size_t eq = arg.find('=');
  const std::string target = arg.substr(0, eq);
  const size_t dot = target.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == target.size())
    throw Error(flag + " " + arg + ": expected <stage>.<param>=<value> (or params.<name>=<value>), "
                "e.g. " + flag + " train.hidden_size=64");
  return {target, arg.substr(eq + 1)};
}

// Python's range(start, stop[, step]) over integers, or floats when any is one.
std::vector<json> range_values(const std::string& inner, const std::string& where) {
  std::vector<double> n;
  bool floats = false;
  std::istringstream in(inner);
  for (std::string part; std::getline(in, part, ',');) {
    const json v = parse_value(part);
    if (!v.is_number()) throw Error(where + ": range() takes numbers, not '" + part + "'");
    floats = floats || v.is_number_float();
    n.push_back(v.get<double>());
  }
  if (n.size() < 2 || n.size() > 3)
    throw Error(where + ": range() takes start, stop and an optional step, like range(16,129,16)");
  const double step = n.size() == 3 ? n[2] : 1;
  if (step == 0) throw Error(where + ": range() step must not be 0");
  std::vector<json> out;
  for (double x = n[0]; step > 0 ? x < n[1] - 1e-12 : x > n[1] + 1e-12; x += step) {
    if (out.size() >= 10000) throw Error(where + ": range() gives more than 10000 values");
    if (floats) out.push_back(std::round(x * 1e12) / 1e12);  // 0.1 steps without 0.30000000000000004
    else out.push_back(static_cast<int64_t>(x));
  }
  if (out.empty()) throw Error(where + ": range() gives no values");
  return out;
}

std::vector<json> grid_values(const std::string& text, const std::string& where) {
  if (text.rfind("range(", 0) == 0 && text.back() == ')')
    return range_values(text.substr(6, text.size() - 7), where);
  const json list = parse_value("[" + text + "]");
  std::vector<json> out;
  if (list.is_array()) {
    for (const auto& v : list) out.push_back(v);
  } else {  // bare words: "adam,sgd"
    std::istringstream in(text);
    for (std::string part; std::getline(in, part, ',');) out.push_back(parse_value(part));
  }
  if (out.empty()) throw Error(where + ": no values");
  return out;
}

std::string safe_name(const std::string& text) {
  std::string out;
  for (char c : text)
    out += (std::isalnum(static_cast<unsigned char>(c)) || std::string("._=,+-").find(c) != std::string::npos) ? c : '_';
  if (out.size() > 120) out = out.substr(0, 100) + "-" + hash_bytes(text).hex().substr(0, 12);
  if (out.empty() || out[0] == '.') out = "x" + out;
  return out;
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Override parse_set(const std::string& arg, const std::string& flag) {
  auto [target, text] = split_assignment(arg, flag);
  return {target, parse_value(text), flag + " " + arg};
}

std::vector<Override> parse_grid(const std::string& arg) {
  auto [target, text] = split_assignment(arg, "--grid");
  std::vector<Override> axis;
  for (const auto& v : grid_values(text, "--grid " + arg)) axis.push_back({target, v, "--grid " + arg});
  return axis;
}

SweepSpec load_sweep_file(const std::string& path) {
  toml::table root;
  try {
    const std::string text = read_file(path);
    check_toml_limits(text, path);
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw Error(path + ":" + std::to_string(e.source().begin.line) + ":" +
                std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  auto where = [&](const toml::node& n) { return path + ":" + std::to_string(n.source().begin.line); };
  SweepSpec spec;
  for (auto&& [key, value] : root) {
    const std::string k(key.str());
    if (k != "set" && k != "grid" && k != "variant")
      throw Error(where(value) + ": unknown table '" + k + "' in a sweep file (known: set, grid, variant)");
  }
  auto overrides_of = [&](const toml::table& t, Variant& into) {
    for (auto&& [key, value] : t) {
      const std::string target(key.str());
      split_assignment(target + "=x", where(value));  // checks <stage>.<param>
      into.push_back({target, value_of(value), where(value) + ": " + target});
    }
  };
  if (auto* t = root["set"].as_table()) overrides_of(*t, spec.fixed);
  if (auto* t = root["grid"].as_table())
    for (auto&& [key, value] : *t) {
      const std::string target(key.str());
      split_assignment(target + "=x", where(value));
      std::vector<json> values;
      if (auto* s = value.as_string()) values = grid_values(s->get(), where(value));
      else if (auto* a = value.as_array()) for (auto&& v : *a) values.push_back(value_of(v));
      else throw Error(where(value) + ": grid." + target + " must be a list of values or a \"range(...)\" string");
      if (values.empty()) throw Error(where(value) + ": grid." + target + " has no values");
      std::vector<Override> axis;
      for (const auto& v : values) axis.push_back({target, v, where(value) + ": grid." + target});
      spec.grid.push_back(std::move(axis));
    }
  if (auto* arr = root["variant"].as_array())
    for (auto&& item : *arr) {
      if (!item.is_table()) throw Error(where(item) + ": each [[variant]] must be a table");
      Variant v;
      overrides_of(*item.as_table(), v);
      spec.variants.push_back(std::move(v));
    }
  return spec;
}

std::vector<Variant> expand(const SweepSpec& spec) {
  std::vector<Variant> out{spec.fixed};
  for (const auto& axis : spec.grid) {
    std::vector<Variant> next;
    for (const auto& v : out)
      for (const auto& o : axis) {
        Variant w = v;
        w.push_back(o);
        next.push_back(std::move(w));
      }
    out = std::move(next);
  }
  if (spec.variants.empty()) return out;
  std::vector<Variant> crossed;
  for (const auto& v : out)
    for (const auto& extra : spec.variants) {
      Variant w = v;
      w.insert(w.end(), extra.begin(), extra.end());
      crossed.push_back(std::move(w));
    }
  return crossed;
}

void apply_overrides(Workflow& wf, const Variant& variant) {
  for (const auto& o : variant) {
    const size_t dot = o.target.find('.');
    const std::string scope = o.target.substr(0, dot), key = o.target.substr(dot + 1);
    const SourcePos pos{o.source, 0, 0};
    if (scope == "params") {
      if (!wf.shared_params.count(key)) {
        std::string known;
        for (const auto& [k, v] : wf.shared_params) known += (known.empty() ? "" : ", ") + k;
        throw Error(o.source + ": " + wf.file + " has no shared param '" + key + "' in [params]" +
                    (known.empty() ? "" : " (it has: " + known + ")"));
      }
      wf.shared_params[key] = ValueAt{o.value, pos};
      continue;
    }
    StageDecl* stage = nullptr;
    for (auto& s : wf.stages) stage = s.name == scope ? &s : stage;
    if (!stage) {
      std::string known;
      for (const auto& s : wf.stages) known += (known.empty() ? "" : ", ") + s.name;
      throw Error(o.source + ": no stage '" + scope + "' in " + wf.file + " (stages: " + known +
                  "; shared [params] are set as params.<name>)");
    }
    stage->params[key] = ValueAt{o.value, pos};
  }
}

std::string variant_name(const Variant& variant) {
  if (variant.empty()) return "baseline";
  std::map<std::string, int> uses;  // a param name that two targets share keeps its stage
  for (const auto& o : variant) ++uses[o.target.substr(o.target.find('.') + 1)];
  std::map<std::string, std::string> last;  // a target set twice: the last value wins
  std::vector<std::string> order;
  for (const auto& o : variant) {
    const std::string param = o.target.substr(o.target.find('.') + 1);
    const std::string label = uses[param] > 1 ? o.target : param;
    if (!last.count(label)) order.push_back(label);
    last[label] = value_text(o.value);
  }
  std::string name;
  for (const auto& label : order) name += (name.empty() ? "" : ",") + label + "=" + last[label];
  return safe_name(name);
}

json overrides_json(const Variant& variant) {
  json out = json::object();
  for (const auto& o : variant) out[o.target] = o.value;
  return out;
}

}  // namespace cadenza
