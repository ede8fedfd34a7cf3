#include "plugin_catalog.h"

#include <sys/stat.h>

#include "error.h"
#include "fs_util.h"
#include "subprocess.h"

namespace cadenza {

using nlohmann::json;

namespace {

sdk::ParamType param_type_from_name(const std::string& name) {
  for (auto t : {sdk::ParamType::kString, sdk::ParamType::kInteger, sdk::ParamType::kFloat,
                 sdk::ParamType::kBool, sdk::ParamType::kStringList})
    if (name == sdk::param_type_name(t)) return t;
  throw Error("unknown param type '" + name + "' in plugin metadata");
}

}  // namespace

std::string file_identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_dev);
}

json plugin_meta_to_json(const PluginMeta& meta) {
  const PluginInfo& i = meta.info;
  json params = json::array();
  for (const auto& p : meta.params) {
    json jp = {{"name", p.name},
               {"type", sdk::param_type_name(p.type)},
               {"description", p.description},
               {"required", p.required()}};
    if (!p.required()) jp["default"] = json::parse(p.default_json);
    if (!p.choices.empty()) jp["choices"] = p.choices;
    if (p.has_bounds) jp["bounds"] = {p.min, p.max};
    if (!p.default_by.empty()) {
      json when = json::array();
      for (const auto& [value, def] : p.defaults_by) when.push_back({json::parse(value), json::parse(def)});
      jp["default_when"] = {{"param", p.default_by}, {"defaults", when}};
    }
    params.push_back(std::move(jp));
  }
  return {{"path", i.path},       {"kind", i.kind},
          {"name", i.name},       {"version", i.version},
          {"description", i.description}, {"abi_version", i.abi_version},
          {"stdlib_abi", i.stdlib_abi},   {"compiler", i.compiler},
          {"params", params}};
}

PluginMeta plugin_meta_from_json(const json& j) {
  PluginMeta meta;
  PluginInfo& i = meta.info;
  i.path = j.at("path");
  i.kind = j.at("kind");
  i.name = j.at("name");
  i.version = j.at("version");
  i.description = j.at("description");
  i.abi_version = j.at("abi_version");
  i.stdlib_abi = j.at("stdlib_abi");
  i.compiler = j.at("compiler");
  for (const auto& jp : j.at("params")) {
    sdk::ParamSpec p;
    p.name = jp.at("name");
    p.type = param_type_from_name(jp.at("type"));
    p.description = jp.at("description");
    if (jp.contains("default")) p.default_json = jp.at("default").dump();
    if (jp.contains("choices")) p.choices = jp.at("choices").get<std::vector<std::string>>();
    if (jp.contains("bounds")) p.bounds(jp["bounds"][0], jp["bounds"][1]);
    if (jp.contains("default_when")) {
      p.default_by = jp["default_when"].at("param");
      for (const auto& pair : jp["default_when"].at("defaults"))
        p.defaults_by.emplace_back(pair.at(0).dump(), pair.at(1).dump());
    }
    meta.params.push_back(std::move(p));
  }
  return meta;
}

PluginMeta describe_plugin_in_process(const std::string& path) {
  auto library = PluginLibrary::load(path);
  PluginMeta meta;
  meta.info = library->info();
  if (meta.info.kind == "stage") {
    auto stage = library->create_stage();
    try {
      meta.params = stage->params();
    } catch (const std::exception& e) {
      throw Error("plugin '" + meta.info.name + "' failed to declare its params: " + e.what());
    }
    for (const auto& p : meta.params) {
      if (p.required()) continue;
      if (!json::accept(p.default_json))
        throw Error("plugin '" + meta.info.name + "' declares param '" + p.name +
                    "' with a default that is not JSON: " + p.default_json);
      if (p.default_by.empty()) continue;
      bool known = false;
      for (const auto& q : meta.params) known = known || (q.name == p.default_by && q.default_by.empty());
      if (!known)
        throw Error("plugin '" + meta.info.name + "' declares param '" + p.name + "' with a default by '" +
                    p.default_by + "', which is not one of its params with a plain default");
      for (const auto& [value, def] : p.defaults_by)
        if (!json::accept(value) || !json::accept(def))
          throw Error("plugin '" + meta.info.name + "' declares param '" + p.name +
                      "' with a dependent default that is not JSON: " + value + " -> " + def);
    }
  }
  return meta;
}

PluginCatalog::PluginCatalog(std::string cache_file, std::string cadenza_binary)
    : cache_file_(std::move(cache_file)),
      cadenza_binary_(cadenza_binary.empty() ? current_executable().string()
                                             : std::move(cadenza_binary)) {
  if (cache_file_.empty()) return;
  std::error_code ec;
  if (!fs::exists(cache_file_, ec)) return;
  try {
    const json j = json::parse(read_file(cache_file_));
    for (auto& [path, entry] : j.items())
      entries_[path] = Entry{entry.at("identity"), plugin_meta_from_json(entry.at("meta"))};
  } catch (const std::exception&) {
    entries_.clear();  // a damaged cache is only a cache: rebuild it
  }
}

const PluginMeta& PluginCatalog::describe(const std::string& path) {
  const std::string identity = file_identity(path);
  auto it = entries_.find(path);
  if (it != entries_.end() && !identity.empty() && it->second.identity == identity)
    return it->second.meta;
  const ProcessResult r = run_process({cadenza_binary_, "plugin-meta", path});
  if (!r.ok()) {
    std::string why = r.err;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (why.rfind("error: ", 0) == 0) why = why.substr(7);
    if (r.signal) why = "loading it crashed the helper process with " + r.describe() + why;
    throw Error(why.empty() ? "cannot describe plugin " + path + " (" + r.describe() + ")" : why);
  }
  PluginMeta meta;
  try {
    meta = plugin_meta_from_json(json::parse(r.out));
  } catch (const std::exception& e) {
    throw Error("cannot read the metadata of plugin " + path + ": " + e.what());
  }
  dirty_ = true;
  auto& entry = entries_[path];
  entry = Entry{identity, std::move(meta)};
  return entry.meta;
}

void PluginCatalog::save() noexcept {
  if (!dirty_ || cache_file_.empty()) return;
  try {
    json j = json::object();
    for (const auto& [path, entry] : entries_)
      j[path] = {{"identity", entry.identity}, {"meta", plugin_meta_to_json(entry.meta)}};
    write_file_atomic(cache_file_, j.dump(1));
    dirty_ = false;
  } catch (...) {
  }
}

}  // namespace cadenza
