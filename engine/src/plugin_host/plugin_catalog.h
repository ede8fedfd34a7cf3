// What the engine knows about plugins without keeping them loaded: their
// info record and, for stages, their param schema.
//
// Reading a schema means running plugin code, and a LibTorch plugin takes
// about a second to load, so the catalog (a) asks a throw-away child process
// (`cadenza plugin-meta <lib>`) rather than loading the library into the
// orchestrator, and (b) caches the answer in .cadenza/plugin-meta.json keyed
// by the library file's identity (size, mtime in ns, inode, device). A no-op
// `cadenza run` therefore loads no plugin at all.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cadenza/sdk/param_spec.h"
#include "plugin_library.h"

namespace cadenza {

struct PluginMeta {
  PluginInfo info;
  std::vector<sdk::ParamSpec> params;  // stages only
};

nlohmann::json plugin_meta_to_json(const PluginMeta& meta);
PluginMeta plugin_meta_from_json(const nlohmann::json& j);

// Loads `path` in this process and describes it (used by `plugin-meta`).
PluginMeta describe_plugin_in_process(const std::string& path);

class PluginCatalog {
 public:
  // `cache_file` may be empty: then nothing is cached. `cadenza_binary` is
  // the executable that answers `plugin-meta` (default: this executable).
  explicit PluginCatalog(std::string cache_file, std::string cadenza_binary = "");

  // Throws Error (with the child's message) if the library is not a usable plugin.
  const PluginMeta& describe(const std::string& path);

  // Writes the cache file if anything was added. Never throws.
  void save() noexcept;

 private:
  struct Entry {
    std::string identity;
    PluginMeta meta;
  };
  std::string cache_file_;
  std::string cadenza_binary_;
  std::map<std::string, Entry> entries_;  // by path
  bool dirty_ = false;
};

// "size:mtime_ns:inode:device" of a file, or "" if it cannot be stat'ed.
std::string file_identity(const std::string& path);

}  // namespace cadenza
