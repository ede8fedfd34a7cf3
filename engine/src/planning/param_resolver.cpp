#include "param_resolver.h"

#include "error.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::string with_article(const std::string& noun) {
  return (noun.find_first_of("aeiou") == 0 ? "an " : "a ") + noun;
}

std::string json_type(const json& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "float";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "table";
  return "null";
}

// Returns the value converted to the declared type, or throws.
json check_type(const json& v, const sdk::ParamSpec& spec, const std::string& where) {
  auto wrong = [&]() -> Error {
    return Error(where + " must be " + with_article(sdk::param_type_name(spec.type)) + " (" +
                 spec.description + "), not " + with_article(json_type(v)) + " (" + v.dump() +
                 ")");
  };
  json out = v;
  switch (spec.type) {
    case sdk::ParamType::kString:
      if (!v.is_string()) throw wrong();
      if (!spec.choices.empty()) {
        bool ok = false;
        std::string list;
        for (const auto& c : spec.choices) {
          ok = ok || c == v.get<std::string>();
          list += (list.empty() ? "" : ", ") + c;
        }
        if (!ok)
          throw Error(where + " must be one of " + list + " (got " + v.dump() + ")");
      }
      break;
    case sdk::ParamType::kInteger:
      if (!v.is_number_integer()) throw wrong();
      break;
    case sdk::ParamType::kFloat:
      if (!v.is_number()) throw wrong();
      out = v.get<double>();
      break;
    case sdk::ParamType::kBool:
      if (!v.is_boolean()) throw wrong();
      break;
    case sdk::ParamType::kStringList:
      if (!v.is_array()) throw wrong();
      for (const auto& item : v)
        if (!item.is_string()) throw wrong();
      break;
  }
  if (spec.has_bounds && out.is_number()) {
    const double x = out.get<double>();
    if (x < spec.min || x > spec.max)
      throw Error(where + " must lie between " + json(spec.min).dump() + " and " +
                  json(spec.max).dump() + " (got " + v.dump() + ")");
  }
  return out;
}


// A value the workflow declares by itself (a script's own param): an
// override must keep the type workflow.toml gave it.
json check_own_type(const json& v, const ValueAt& value, const Workflow& workflow,
                    const std::string& key, const std::string& where) {
  if (!value.overridden) return v;
  if (value.written.is_null())
    throw Error(where + " is not in " + workflow.file + "; a script stage's params are the ones its params "
                "table declares: add " + key + " = <value> there first");
  const json before = substitute_shared(value.written, workflow, where);
  if (before.is_number_float() && v.is_number()) return v.get<double>();
  if (before.is_string() && (v.is_number() || v.is_boolean())) return v.dump();  // --set name=123
  if (json_type(before) != json_type(v))
    throw Error(where + " is " + with_article(json_type(before)) + " (" + before.dump() + " in " + workflow.file +
                "), so it cannot take " + with_article(json_type(v)) + " (" + v.dump() + ")");
  return v;
}

}  // namespace

json substitute_shared(const json& v, const Workflow& workflow, const std::string& where) {
  if (v.is_array() || v.is_object()) {
    json out = v;
    for (auto& item : out) item = substitute_shared(item, workflow, where);
    return out;
  }
  if (!v.is_string()) return v;
  const std::string& s = v.get_ref<const std::string&>();
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, "$${") == 0) {  // escaped: a literal ${, e.g. for the shell
      out += "${";
      i += 3;
      continue;
    }
    if (s.compare(i, 2, "${") != 0) {
      out += s[i++];
      continue;
    }
    const size_t end = s.find('}', i);
    if (end == std::string::npos) throw Error(where + ": '${' without a closing '}' in " + v.dump());
    const std::string name = s.substr(i + 2, end - i - 2);
    auto shared = workflow.shared_params.find(name);
    if (shared == workflow.shared_params.end())
      throw Error(where + " refers to shared param '" + name + "', which [params] does not define; add it "
                  "there (for a shell variable, write $" + name + " or $${" + name + "})");
    const json& value = shared->second.value;
    if (i == 0 && end + 1 == s.size()) return value;  // the whole value: keeps its type
    out += value.is_string() ? value.get<std::string>() : value.dump();
    i = end + 1;
  }
  return out;
}

std::set<std::string> shared_references(const json& v) {
  std::set<std::string> names;
  if (v.is_array() || v.is_object()) {
    for (const auto& item : v) names.merge(shared_references(item));
    return names;
  }
  if (!v.is_string()) return names;
  const std::string& s = v.get_ref<const std::string&>();
  for (size_t i = s.find("${"); i != std::string::npos; i = s.find("${", i + 2)) {
    if (i > 0 && s[i - 1] == '$') continue;
    const size_t end = s.find('}', i);
    if (end != std::string::npos) names.insert(s.substr(i + 2, end - i - 2));
  }
  return names;
}

json resolve_params(const Workflow& workflow, const StageDecl& stage,
                    const std::vector<sdk::ParamSpec>& schema) {
  std::map<std::string, const sdk::ParamSpec*> by_name;
  const sdk::ParamSpec* any_other = nullptr;
  for (const auto& spec : schema) (spec.is_any_other() ? any_other : by_name[spec.name]) = &spec;
  json out = json::object();
  for (const auto& [key, value] : stage.params) {
    const std::string where = value.pos.str() + ": stage '" + stage.name + "' param '" + key + "'";
    auto it = by_name.find(key);
    if (it == by_name.end() && !any_other) {
      std::string known;
      for (const auto& spec : schema) known += (known.empty() ? "" : ", ") + spec.name;
      throw Error(value.pos.str() + ": stage '" + stage.name + "': unknown param '" + key +
                  "' for plugin " + stage.plugin + " (known params: " +
                  (known.empty() ? "none" : known) + "; `cadenza plugins info " + stage.plugin +
                  "` describes them)");
    }
    const json v = substitute_shared(value.value, workflow, where);
    const auto refs = shared_references(value.value);
    const bool whole = refs.size() == 1 && value.value == json("${" + *refs.begin() + "}");
    const std::string used_where = whole ? where + " (via [params]." + *refs.begin() + " at " +
                                               workflow.shared_params.at(*refs.begin()).pos.str() + ")"
                                         : where;
    out[key] = it == by_name.end() ? check_own_type(v, value, workflow, key, used_where)
                                   : check_type(v, *it->second, used_where);
  }
  for (const auto& spec : schema) {
    if (out.contains(spec.name) || !spec.default_by.empty() || spec.is_any_other()) continue;
    if (spec.required())
      throw Error(stage.pos.str() + ": stage '" + stage.name + "' must set param '" + spec.name +
                  "' (" + sdk::param_type_name(spec.type) + ": " + spec.description + ")");
    out[spec.name] = json::parse(spec.default_json);
  }
  // Defaults that depend on another param, now that every plain one is known.
  for (const auto& spec : schema) {
    if (out.contains(spec.name) || spec.is_any_other()) continue;
    json def = spec.required() ? json() : json::parse(spec.default_json);
    const std::string by = out.contains(spec.default_by) ? out[spec.default_by].dump() : "";
    for (const auto& [value, d] : spec.defaults_by)
      if (json::parse(value).dump() == by) def = json::parse(d);
    if (def.is_null())
      throw Error(stage.pos.str() + ": stage '" + stage.name + "' must set param '" + spec.name +
                  "' (" + sdk::param_type_name(spec.type) + ": " + spec.description + ")");
    out[spec.name] = std::move(def);
  }
  return out;
}

}  // namespace cadenza
