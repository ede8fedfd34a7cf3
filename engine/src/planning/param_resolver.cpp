#include "param_resolver.h"

namespace cadenza {

using nlohmann::json;

namespace {

bool is_reference(const json& v, std::string* name) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() < 4 || s.rfind("${", 0) != 0 || s.back() != '}') return false;
  *name = s.substr(2, s.size() - 3);
  return true;
}

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

}  // namespace

json resolve_params(const Workflow& workflow, const StageDecl& stage,
                    const std::vector<sdk::ParamSpec>& schema) {
  std::map<std::string, const sdk::ParamSpec*> by_name;
  for (const auto& spec : schema) by_name[spec.name] = &spec;
  json out = json::object();
  for (const auto& [key, value] : stage.params) {
    const std::string where = value.pos.str() + ": stage '" + stage.name + "' param '" + key + "'";
    auto it = by_name.find(key);
    if (it == by_name.end()) {
      std::string known;
      for (const auto& spec : schema) known += (known.empty() ? "" : ", ") + spec.name;
      throw Error(value.pos.str() + ": stage '" + stage.name + "': unknown param '" + key +
                  "' for plugin " + stage.plugin + " (known params: " +
                  (known.empty() ? "none" : known) + "; `cadenza plugins info " + stage.plugin +
                  "` describes them)");
    }
    std::string ref;
    const json* v = &value.value;
    std::string used_where = where;
    if (is_reference(*v, &ref)) {
      auto shared = workflow.shared_params.find(ref);
      if (shared == workflow.shared_params.end())
        throw Error(where + " refers to shared param '" + ref +
                    "', which [params] does not define; add it there");
      v = &shared->second.value;
      used_where = where + " (via [params]." + ref + " at " + shared->second.pos.str() + ")";
    } else if (v->is_string() && v->get_ref<const std::string&>().find("${") != std::string::npos) {
      throw Error(where + ": a shared param reference must be the whole value, like \"${name}\"");
    }
    out[key] = check_type(*v, *it->second, used_where);
  }
  for (const auto& spec : schema) {
    if (out.contains(spec.name) || !spec.default_by.empty()) continue;
    if (spec.required())
      throw Error(stage.pos.str() + ": stage '" + stage.name + "' must set param '" + spec.name +
                  "' (" + sdk::param_type_name(spec.type) + ": " + spec.description + ")");
    out[spec.name] = json::parse(spec.default_json);
  }
  // Defaults that depend on another param, now that every plain one is known.
  for (const auto& spec : schema) {
    if (out.contains(spec.name)) continue;
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
