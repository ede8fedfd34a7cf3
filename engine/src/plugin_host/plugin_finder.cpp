#include "plugin_finder.h"

#include <cstdlib>
#include <filesystem>
#include <map>

#include "error.h"
#include "fs_util.h"

namespace cadenza {

namespace {
constexpr const char* kPrefix = "cadenza-";
constexpr const char* kSuffix = ".so";
}  // namespace

PluginFinder::PluginFinder(std::vector<std::string> workflow_dirs) {
  const fs::path bindir = current_executable().parent_path();
  dirs_.push_back((bindir / ".." / "lib" / "cadenza" / "plugins").lexically_normal().string());
  dirs_.push_back((bindir / "plugins").lexically_normal().string());
  if (const char* env = std::getenv("CADENZA_PLUGIN_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      std::string dir = list.substr(start, end - start);
      // Relative entries are taken relative to the current directory only
      // because the user wrote them explicitly.
      if (!dir.empty()) dirs_.push_back(fs::absolute(dir).lexically_normal().string());
      start = end + 1;
    }
  }
  for (auto& d : workflow_dirs) dirs_.push_back(std::move(d));
}

std::string PluginFinder::file_name_for(const std::string& plugin_name) {
  return kPrefix + plugin_name + kSuffix;
}

std::string PluginFinder::find(const std::string& plugin_name) const {
  const std::string file = file_name_for(plugin_name);
  std::error_code ec;
  for (const auto& dir : dirs_) {
    fs::path candidate = fs::path(dir) / file;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  std::string searched;
  for (const auto& dir : dirs_) searched += "\n  " + dir;
  throw Error("plugin '" + plugin_name + "' not found: no " + file + " in" + searched +
              "\nbuild it, add its directory to CADENZA_PLUGIN_PATH or to "
              "[workflow].plugin_paths, or check the name (`cadenza plugins` lists what exists)");
}

std::vector<std::string> PluginFinder::all() const {
  std::map<std::string, std::string> by_file;
  const std::string prefix = kPrefix, suffix = kSuffix;
  for (const auto& dir : dirs_) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      by_file.emplace(name, it->path().string());  // first directory wins
    }
  }
  std::vector<std::string> out;
  for (auto& [name, path] : by_file) out.push_back(path);
  return out;
}

}  // namespace cadenza
