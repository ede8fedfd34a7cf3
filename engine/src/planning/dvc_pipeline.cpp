#include "dvc_pipeline.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "error.h"
#include "params_file.h"

namespace cadenza {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The file being read, for messages: dvc.yaml:line:col.
struct Source {
  std::string name;  // as the user knows it: "dvc.yaml"
  std::string root;  // the project directory
};

[[noreturn]] void fail(const Source& src, const YAML::Node& at, const std::string& what) {
  const YAML::Mark m = at.Mark();
  throw Error(src.name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + what);
}

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// "train.lr", "models[0].name", "item.lr" in the templating context.
const json* lookup(const json& ctx, const std::string& expr) {
  const json* at = &ctx;
  size_t i = 0;
  while (i < expr.size()) {
    if (expr[i] == '.') ++i;
    if (expr[i] == '[') {
      const size_t close = expr.find(']', i);
      if (close == std::string::npos || !at->is_array()) return nullptr;
      const size_t index = std::stoul(expr.substr(i + 1, close - i - 1));
      if (index >= at->size()) return nullptr;
      at = &(*at)[index];
      i = close + 1;
      continue;
    }
    const size_t end = expr.find_first_of(".[", i);
    const std::string key = expr.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
    i = end == std::string::npos ? expr.size() : end;
  }
  return at;
}

std::string known_names(const json& ctx) {
  std::string out;
  for (const auto& [k, v] : ctx.items()) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "none" : out;
}

// ${...} in one string: a whole-value reference keeps its type.
json interpolate(const std::string& s, const json& ctx, const Source& src, const YAML::Node& at) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t open = s.find("${", i);
    if (open == std::string::npos || (open > 0 && s[open - 1] == '\\')) {
      out += s.substr(i, open == std::string::npos ? std::string::npos : open + 2 - i);
      if (open == std::string::npos) break;
      i = open + 2;
      continue;
    }
    const size_t close = s.find('}', open);
    if (close == std::string::npos) fail(src, at, "'${' without its '}' in \"" + s + "\"");
    std::string expr = s.substr(open + 2, close - open - 2);
    expr.erase(0, expr.find_first_not_of(' '));
    expr.erase(expr.find_last_not_of(' ') + 1);
    const json* v = lookup(ctx, expr);
    if (!v)
      fail(src, at, "${" + expr + "} is not defined; define it under vars (or in params.yaml), "
                    "known here: " + known_names(ctx));
    if (open == 0 && close + 1 == s.size()) return *v;
    out += s.substr(i, open - i) + text_of(*v);
    i = close + 1;
  }
  return out;
}

json resolve(const YAML::Node& n, const json& ctx, const Source& src) {
  if (n.IsScalar()) {
    json v = yaml_to_json(n);
    return v.is_string() ? interpolate(v.get<std::string>(), ctx, src, n) : v;
  }
  if (n.IsSequence()) {
    json a = json::array();
    for (const auto& e : n) a.push_back(resolve(e, ctx, src));
    return a;
  }
  if (n.IsMap()) {
    json o = json::object();
    for (const auto& kv : n) o[kv.first.as<std::string>()] = resolve(kv.second, ctx, src);
    return o;
  }
  return nullptr;
}

void merge(json& into, const json& from) {
  for (const auto& [k, v] : from.items()) {
    if (into.contains(k) && into[k].is_object() && v.is_object()) merge(into[k], v);
    else into[k] = v;
  }
}

// `vars`: files ("params.yaml", "config.json:train,model") and inline maps.
void load_vars(const YAML::Node& vars, json& ctx, const Source& src) {
  if (!vars.IsSequence()) fail(src, vars, "vars must be a list of files and maps");
  for (const auto& entry : vars) {
    if (entry.IsMap()) {
      merge(ctx, resolve(entry, ctx, src));
      continue;
    }
    const std::string spec = entry.as<std::string>();
    const size_t colon = spec.find(':');
    const std::string file = spec.substr(0, colon);
    if (!fs::exists(src.root + "/" + file)) fail(src, entry, "vars: " + file + " does not exist in " + src.root);
    const json doc = ParamsFile::read(src.root + "/" + file, file).document();
    if (colon == std::string::npos) {
      merge(ctx, doc);
      continue;
    }
    std::string keys = spec.substr(colon + 1);
    for (size_t start = 0, comma; start < keys.size(); start = comma + 1) {
      comma = keys.find(',', start);
      if (comma == std::string::npos) comma = keys.size();
      const std::string key = keys.substr(start, comma - start);
      const json* v = lookup(doc, key);
      if (!v) fail(src, entry, "vars: " + file + " has no key '" + key + "'");
      ctx[key] = *v;
    }
  }
}

// A list entry that is a path or {path: {options}}.
std::pair<std::string, json> path_entry(const json& e) {
  if (e.is_string()) return {e.get<std::string>(), json::object()};
  if (e.is_object() && e.size() == 1) {
    const auto it = e.begin();
    return {it.key(), it.value().is_object() ? it.value() : json::object()};
  }
  return {"", nullptr};
}

class StageReader {
 public:
  StageReader(const Source& src, DvcPipeline& out) : src_(src), out_(out) {}

  void read(const std::string& name, const YAML::Node& body, const json& ctx) {
    if (!body.IsMap()) fail(src_, body, "stage '" + name + "' must be a map with at least cmd");
    if (body["foreach"]) return expand_foreach(name, body, ctx);
    if (body["matrix"]) return expand_matrix(name, body, ctx);
    one_stage(name, body, ctx);
  }

 private:
  void expand_foreach(const std::string& name, const YAML::Node& body, const json& ctx) {
    const json items = resolve(body["foreach"], ctx, src_);
    const YAML::Node work = body["do"];
    if (!work || !work.IsMap()) fail(src_, body, "stage '" + name + "': foreach needs a 'do:' map with the stage");
    if (items.is_array()) {
      for (size_t k = 0; k < items.size(); ++k) {
        json local = ctx;
        local["item"] = items[k];
        const bool scalar = !items[k].is_object() && !items[k].is_array();
        one_stage(name + "@" + (scalar ? text_of(items[k]) : std::to_string(k)), work, local);
      }
    } else if (items.is_object()) {
      // In the order written (a literal map's; a ${...} one's in key order).
      std::vector<std::string> keys;
      if (body["foreach"].IsMap())
        for (const auto& kv : body["foreach"]) keys.push_back(kv.first.as<std::string>());
      else
        for (const auto& [key, value] : items.items()) keys.push_back(key);
      for (const auto& key : keys) {
        json local = ctx;
        local["key"] = key;
        local["item"] = items[key];
        one_stage(name + "@" + key, work, local);
      }
    } else {
      fail(src_, body["foreach"], "stage '" + name + "': foreach must be a list or a map (or ${...} of one)");
    }
  }

  void expand_matrix(const std::string& name, const YAML::Node& body, const json& ctx) {
    const YAML::Node matrix = body["matrix"];
    if (!matrix.IsMap()) fail(src_, matrix, "stage '" + name + "': matrix must map names to lists");
    std::vector<std::pair<std::string, json>> axes;
    for (const auto& kv : matrix) {
      json values = resolve(kv.second, ctx, src_);
      if (!values.is_array() || values.empty())
        fail(src_, kv.second, "stage '" + name + "': matrix." + kv.first.as<std::string>() + " must be a non-empty list");
      axes.emplace_back(kv.first.as<std::string>(), values);
    }
    std::vector<size_t> at(axes.size(), 0);
    while (true) {
      json local = ctx;
      std::string suffix;
      for (size_t a = 0; a < axes.size(); ++a) {
        const json& v = axes[a].second[at[a]];
        local["item"][axes[a].first] = v;
        const bool scalar = !v.is_object() && !v.is_array();
        suffix += (a ? "-" : "") + (scalar ? text_of(v) : axes[a].first + std::to_string(at[a]));
      }
      one_stage(name + "@" + suffix, body, local);
      size_t a = axes.size();
      while (a > 0 && ++at[a - 1] == axes[a - 1].second.size()) at[--a] = 0;
      if (a == 0) break;
    }
  }

  void note(const DvcStage& s, const YAML::Node& at, const std::string& text) {
    out_.not_carried.push_back({line_of(at), s.name, text});
  }

  void one_stage(const std::string& name, const YAML::Node& body, json ctx) {
    DvcStage s;
    s.name = name;
    s.line = line_of(body);
    s.column = body.Mark().column + 1;
    if (body["vars"]) load_vars(body["vars"], ctx, src_);
    static const std::set<std::string> known{"cmd", "wdir", "deps", "outs", "params", "metrics", "plots", "frozen",
                                             "always_changed", "desc", "meta", "vars", "foreach", "do", "matrix"};
    for (const auto& kv : body) {
      const std::string key = kv.first.as<std::string>();
      if (!known.count(key))
        fail(src_, kv.first, "stage '" + name + "': unknown key '" + key + "' (DVC 3 stages have cmd, wdir, deps, "
                             "outs, params, metrics, plots, frozen, always_changed, desc, meta, vars, foreach/do, matrix)");
    }
    if (!body["cmd"]) fail(src_, body, "stage '" + name + "' has no cmd");
    const json cmd = resolve(body["cmd"], ctx, src_);
    for (const auto& c : cmd.is_array() ? cmd : json::array({cmd}))
      s.cmd += (s.cmd.empty() ? "" : " && ") + text_of(c);
    if (body["wdir"]) s.wdir = text_of(resolve(body["wdir"], ctx, src_));
    if (body["desc"]) s.desc = text_of(resolve(body["desc"], ctx, src_));
    if (body["frozen"]) s.frozen = resolve(body["frozen"], ctx, src_) == json(true);
    if (body["always_changed"]) s.always_changed = resolve(body["always_changed"], ctx, src_) == json(true);
    if (s.frozen) note(s, body["frozen"], "frozen: true (Cadenza has no frozen stage; run others with -s/--stage)");
    if (s.always_changed)
      note(s, body["always_changed"], "always_changed: true (Cadenza runs a stage when its inputs change; "
                                      "use `cadenza run -f -s " + name + "` to force it)");
    if (body["meta"]) note(s, body["meta"], "meta (free-form; kept in this comment only)");
    read_paths(s, body, ctx);
    read_params(s, body["params"], ctx);
    out_.stages.push_back(std::move(s));
  }

  void read_paths(DvcStage& s, const YAML::Node& body, const json& ctx) {
    if (const YAML::Node deps = body["deps"]) {
      for (const auto& d : resolve(deps, ctx, src_)) s.deps.push_back(dvc_path(s.wdir, text_of(d)));
    }
    if (const YAML::Node outs = body["outs"]) {
      if (!outs.IsSequence()) fail(src_, outs, "stage '" + s.name + "': outs must be a list");
      for (const auto& node : outs) {  // one by one: a note names its entry's line
        auto [path, opts] = path_entry(resolve(node, ctx, src_));
        if (path.empty()) fail(src_, node, "stage '" + s.name + "': an out is a path or {path: {options}}");
        const YAML::Node& outs = node;
        DvcOut o{dvc_path(s.wdir, path), opts.value("cache", true), opts.value("persist", false),
                 opts.value("desc", std::string())};
        if (!o.cache) note(s, outs, "outs " + path + ": cache: false (Cadenza stores every out in its cache)");
        if (o.persist)
          note(s, outs, "outs " + path + ": persist: true (Cadenza moves an out aside before its stage runs "
                        "and puts it back if the stage fails; a script that resumes should keep its state in "
                        "$CADENZA_SCRATCH_DIR)");
        for (const auto& [k, v] : opts.items())
          if (k != "cache" && k != "persist" && k != "desc") note(s, outs, "outs " + path + ": " + k + ": " + v.dump());
        s.outs.push_back(o);
      }
    }
    for (const char* kind : {"metrics", "plots"}) {
      const YAML::Node list = body[kind];
      if (!list) continue;
      for (const auto& e : resolve(list, ctx, src_)) {
        auto [path, opts] = path_entry(e);
        if (path.empty()) fail(src_, list, "stage '" + s.name + "': " + kind + " entries are paths or {path: {options}}");
        // DVC's metrics and plots files are outputs of their stage too (cache:
        // false, DVC's usual for them, needs no note: Cadenza caches them).
        (std::string(kind) == "metrics" ? s.metrics : s.plots).push_back(dvc_path(s.wdir, path));
        s.outs.push_back(DvcOut{dvc_path(s.wdir, path), opts.value("cache", true), false, ""});
      }
    }
  }

  void read_params(DvcStage& s, const YAML::Node& node, const json& ctx) {
    if (!node) return;
    const std::string default_file = dvc_path(s.wdir, "params.yaml");
    for (const auto& e : resolve(node, ctx, src_)) {
      if (e.is_string()) {
        s.params[default_file].push_back(e.get<std::string>());
      } else if (e.is_object()) {
        for (const auto& [file, keys] : e.items()) {
          auto& list = s.params[dvc_path(s.wdir, file)];
          if (keys.is_array())
            for (const auto& k : keys) list.push_back(text_of(k));
          else if (!keys.is_null())
            fail(src_, node, "stage '" + s.name + "': params " + file + ": a list of keys, or nothing for the whole file");
        }
      } else {
        fail(src_, node, "stage '" + s.name + "': params entries are keys of params.yaml or {file: [keys]}");
      }
    }
  }

  const Source& src_;
  DvcPipeline& out_;
};

// Stages that need each other's outputs, named with their lines.
void check_no_cycle(const DvcPipeline& p, const Source& src) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < p.stages.size(); ++i)
    for (const auto& o : p.stages[i].outs) {
      auto [it, fresh] = producer.emplace(o.path, i);
      if (!fresh)
        throw Error(src.name + ":" + std::to_string(p.stages[i].line) + ":" + std::to_string(p.stages[i].column) +
                    ": stages '" + p.stages[it->second].name +
                    "' and '" + p.stages[i].name + "' both declare the out " + o.path + "; give each its own path");
    }
  auto upstream = [&](size_t i) {
    std::vector<size_t> up;
    for (const auto& d : p.stages[i].deps)
      for (const auto& [out, j] : producer)
        if (d == out || d.rfind(out + "/", 0) == 0) up.push_back(j);
    return up;
  };
  std::vector<int> state(p.stages.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<size_t> path;
  std::function<void(size_t)> visit = [&](size_t i) {
    state[i] = 1;
    path.push_back(i);
    for (size_t j : upstream(i)) {
      if (state[j] == 1) {
        std::string chain;
        for (auto it = std::find(path.begin(), path.end(), j); it != path.end(); ++it) chain += p.stages[*it].name + " -> ";
        throw Error(src.name + ":" + std::to_string(p.stages[j].line) + ":" + std::to_string(p.stages[j].column) +
                    ": the stages form a cycle: " + chain +
                    p.stages[j].name + "; one of them must not depend on the other's output");
      }
      if (state[j] == 0) visit(j);
    }
    path.pop_back();
    state[i] = 2;
  };
  for (size_t i = 0; i < p.stages.size(); ++i)
    if (state[i] == 0) visit(i);
}

}  // namespace

std::string dvc_path(const std::string& wdir, const std::string& path) {
  if (wdir.empty() || wdir == "." || fs::path(path).is_absolute()) return path;
  return (fs::path(wdir) / path).lexically_normal().generic_string();
}

DvcPipeline read_dvc_pipeline(const std::string& dvc_yaml) {
  const Source src{fs::path(dvc_yaml).filename().string(), fs::path(dvc_yaml).parent_path().string()};
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(dvc_yaml);
  } catch (const YAML::BadFile&) {
    throw Error("cannot read " + dvc_yaml + " (no such file?)");
  } catch (const YAML::Exception& e) {
    throw Error(src.name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                ": not valid YAML: " + e.msg);
  }
  if (!doc.IsMap() || !doc["stages"] || !doc["stages"].IsMap())
    throw Error(src.name + ": no 'stages:' map; a DVC pipeline file lists its stages under stages:");
  DvcPipeline out;
  json ctx = json::object();
  const std::string root = src.root.empty() ? "." : src.root;
  if (fs::exists(root + "/params.yaml")) ctx = ParamsFile::read(root + "/params.yaml", "params.yaml").document();
  const Source rooted{src.name, root};
  if (doc["vars"]) load_vars(doc["vars"], ctx, rooted);
  for (const auto& kv : doc) {
    const std::string key = kv.first.as<std::string>();
    if (key == "stages" || key == "vars") continue;
    if (key == "plots" || key == "metrics" || key == "params" || key == "artifacts" || key == "datasets")
      out.not_carried.push_back({line_of(kv.first), "", "top-level " + key + ": (DVC's project-level " + key +
                                                            "; a stage's own metrics files are carried)"});
    else
      fail(rooted, kv.first, "unknown top-level key '" + key + "' (dvc.yaml has stages, vars, params, metrics, "
                             "plots, artifacts, datasets)");
  }
  StageReader reader(rooted, out);
  for (const auto& kv : doc["stages"]) reader.read(kv.first.as<std::string>(), kv.second, ctx);
  check_no_cycle(out, rooted);
  return out;
}

}  // namespace cadenza
