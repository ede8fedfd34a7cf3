#include "overrides.h"

#include "toml_include.h"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "fs_util.h"
#include "error.h"
#include "hash.h"
#include "param_resolver.h"
#include "toml_limits.h"
#include "toml_values.h"

namespace cadenza {

using nlohmann::json;

namespace {

// A TOML value, or the text itself as a string.
json parse_value(const std::string& text) {
  try {
    check_toml_limits("v = " + text, "--set value");
    const toml::table t = toml::parse("v = " + text);
    return toml_to_json(*t.get("v"));
  } catch (const toml::parse_error&) {
    return text;
  }
}

std::pair<std::string, std::string> split_assignment(const std::string& arg, const std::string& flag) {
  const size_t eq = arg.find('=');
  const std::string target = arg.substr(0, eq);
  const size_t colon = target.find(':');
  const size_t dot = colon == std::string::npos ? target.find('.') : colon;
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == target.size())
    throw Error(flag + " " + arg + ": expected <stage>.<param>=<value>, params.<name>=<value> or "
                "<params file>:<key>=<value>, e.g. " + flag + " train.hidden_size=64 or " + flag +
                " params.yaml:train.lr=0.001");
  return {target, arg.substr(eq + 1)};
}

// How a target is shown in an experiment's name: the param's own name
// ("train.hidden_size" -> "hidden_size", "params.yaml:train.lr" -> "lr").
std::string short_label(const std::string& target) {
  const size_t colon = target.find(':');
  if (colon != std::string::npos) return target.substr(target.rfind('.') > colon ? target.rfind('.') + 1 : colon + 1);
  return target.substr(target.find('.') + 1);
}

std::string known_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// params.yaml:train.lr=0.1: the key must be one a stage tracks, or the
// edit would change nothing any stage depends on.
void apply_file_override(Workflow& wf, const Override& o) {
  const size_t colon = o.target.find(':');
  const std::string file = normalize_relative(o.target.substr(0, colon)), key = o.target.substr(colon + 1);
  std::vector<std::string> tracked;
  bool found = false;
  for (const auto& stage : wf.stages)
    for (const auto& f : stage.params_files) {
      if (f.path != file) continue;
      for (const auto& k : f.keys) {
        tracked.push_back(stage.name + ": " + k);
        found = found || k == key || key.rfind(k + ".", 0) == 0;
      }
      found = found || f.keys.empty();
    }
  if (!found)
    throw Error(o.source + ": no stage tracks key '" + key + "' of " + file + ", so this would change nothing " +
                "(tracked keys of " + file + ": " + known_list(tracked) + "); add it to a stage's params_files");
  wf.params_file_edits[file].push_back({key, o.value, o.source});
}

void apply_shared_override(Workflow& wf, const Override& o, const std::string& key) {
  if (!wf.shared_params.count(key)) {
    std::vector<std::string> known;
    for (const auto& [k, v] : wf.shared_params) known.push_back(k);
    throw Error(o.source + ": " + wf.file + " has no shared param '" + key + "' in [params] (it has: " +
                known_list(known) + ")");
  }
  bool used = false;
  for (const auto& stage : wf.stages)
    for (const auto& [name, value] : stage.params) used = used || shared_references(value.value).count(key);
  if (!used)
    throw Error(o.source + ": no stage uses [params]." + key + " (as \"${" + key + "}\" in its params), so this "
                "would change nothing; refer to it from a stage, or set a stage's param instead");
  wf.shared_params[key] = ValueAt{o.value, SourcePos{o.source, 0, 0}};
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

// One label or value in a name: letters, digits and . _ - ('+' joins pairs).
std::string safe_part(const std::string& text) {
  std::string out;
  for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || std::string("._-").find(c) != std::string::npos) ? c : '_';
  return out;
}

std::string safe_name(const std::string& text) {
  std::string out = text;
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
      into.push_back({target, toml_to_json(value), where(value) + ": " + target});
    }
  };
  if (auto* t = root["set"].as_table()) overrides_of(*t, spec.fixed);
  if (auto* t = root["grid"].as_table())
    for (auto&& [key, value] : *t) {
      const std::string target(key.str());
      split_assignment(target + "=x", where(value));
      std::vector<json> values;
      if (auto* s = value.as_string()) values = grid_values(s->get(), where(value));
      else if (auto* a = value.as_array()) for (auto&& v : *a) values.push_back(toml_to_json(v));
      else throw Error(where(value) + ": grid." + target + " must be a list of values or a \"range(...)\" string");
      if (values.empty()) throw Error(where(value) + ": grid." + target + " has no values");
      std::vector<Override> axis;
      for (const auto& v : values) axis.push_back({target, v, where(value) + ": grid." + target});
      spec.grid.push_back(std::move(axis));
    }
  if (auto* arr = root["variant"].as_array())
    for (auto&& item : *arr) {
      if (!item.is_table()) throw Error(where(item) + ": each [[variant]] must be a table");
      toml::table table = *item.as_table();
      std::string name;
      if (auto* n = item.as_table()->get("name")) {
        if (!n->is_string()) throw Error(where(*n) + ": a [[variant]]'s name must be a string");
        name = n->value<std::string>().value();
        if (safe_part(name) != name || name.empty())
          throw Error(where(*n) + ": variant name '" + name + "' may use only letters, digits and . _ -");
        table.erase("name");
      }
      Variant v;
      overrides_of(table, v);
      spec.variants.push_back(std::move(v));
      spec.variant_names.push_back(name);
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

std::vector<std::string> expanded_names(const SweepSpec& spec) {
  std::vector<std::string> names;
  const std::vector<Variant> all = expand(spec);
  const size_t per = spec.variants.empty() ? 1 : spec.variants.size();
  for (size_t k = 0; k < all.size(); ++k) {
    const std::string given = spec.variants.empty() ? "" : spec.variant_names[k % per];
    if (given.empty()) {
      names.push_back(variant_name(all[k]));
      continue;
    }
    // The named variant's own overrides are the last ones expand() appended.
    const Variant rest(all[k].begin(), all[k].end() - static_cast<long>(spec.variants[k % per].size()));
    names.push_back(rest.empty() ? given : safe_name(given + "+" + variant_name(rest)));
  }
  return names;
}

void apply_overrides(Workflow& wf, const Variant& variant) {
  for (const auto& o : variant) {
    if (o.target.find(':') != std::string::npos) {
      apply_file_override(wf, o);
      continue;
    }
    const size_t dot = o.target.find('.');
    const std::string scope = o.target.substr(0, dot), key = o.target.substr(dot + 1);
    if (scope == "params") {
      apply_shared_override(wf, o, key);
      continue;
    }
    StageDecl* stage = nullptr;
    for (auto& s : wf.stages) stage = s.name == scope ? &s : stage;
    if (!stage) {
      std::vector<std::string> known;
      for (const auto& s : wf.stages) known.push_back(s.name);
      throw Error(o.source + ": no stage '" + scope + "' in " + wf.file + " (stages: " + known_list(known) +
                  "; shared [params] are set as params.<name>, params file keys as <file>:<key>)");
    }
    auto written = stage->params.find(key);
    ValueAt v{o.value, SourcePos{o.source, 0, 0}};
    v.overridden = true;
    if (written != stage->params.end())
      v.written = written->second.overridden ? written->second.written : written->second.value;
    stage->params[key] = std::move(v);
  }
}

std::string variant_name(const Variant& variant) {
  if (variant.empty()) return "baseline";
  std::map<std::string, std::set<std::string>> targets_of;  // a label two targets share keeps its target
  for (const auto& o : variant) targets_of[short_label(o.target)].insert(o.target);
  std::map<std::string, std::string> last;  // a target set twice: the last value wins
  std::vector<std::string> order;
  for (const auto& o : variant) {
    const std::string param = short_label(o.target);
    const std::string label = targets_of[param].size() > 1 ? o.target : param;
    if (!last.count(label)) order.push_back(label);
    last[label] = value_text(o.value);
  }
  std::string name;
  for (const auto& label : order) name += (name.empty() ? "" : "+") + safe_part(label) + "-" + safe_part(last[label]);
  return safe_name(name);
}

json overrides_json(const Variant& variant) {
  json out = json::object();
  for (const auto& o : variant) out[o.target] = o.value;
  return out;
}

}  // namespace cadenza
