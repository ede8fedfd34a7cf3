// Where plugins are looked for, and how a plugin name maps to a file.
//
// A plugin called "stage_preprocess" lives in a file "cadenza-stage_preprocess.so".
// Directories are searched in this order, first match wins:
//   1. next to the binary: <bindir>/../lib/cadenza/plugins (installed) and
//      <bindir>/plugins (build tree);
//   2. each directory of $CADENZA_PLUGIN_PATH (colon-separated);
//   3. the workflow's [workflow].plugin_paths.
// The current directory is never searched implicitly: a workflow checked out
// from somewhere must not run a library that happens to lie beside it.
#pragma once

#include <string>
#include <vector>

namespace cadenza {

class PluginFinder {
 public:
  // `workflow_dirs` are absolute ([workflow].plugin_paths).
  explicit PluginFinder(std::vector<std::string> workflow_dirs = {});

  const std::vector<std::string>& search_dirs() const { return dirs_; }

  // Path of the plugin's library. Throws Error naming the plugin, the file
  // name looked for and every directory searched.
  std::string find(const std::string& plugin_name) const;

  // Every plugin file in the search path (earlier directories shadow later
  // ones with the same file name), sorted by name.
  std::vector<std::string> all() const;

  static std::string file_name_for(const std::string& plugin_name);

 private:
  std::vector<std::string> dirs_;
};

}  // namespace cadenza
