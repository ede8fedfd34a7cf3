#include "summary_files.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "file_identity.h"

namespace cadenza::script {

namespace {

// Numbers (and booleans) of a YAML or JSON document (JSON is YAML), with
// nested keys joined by '/'.
void flatten(const YAML::Node& n, const std::string& prefix, MetricUpdate& u) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (prefix.empty() && key == "step" && kv.second.IsScalar()) {
        try {
          u.step = kv.second.as<int64_t>();
          continue;
        } catch (const YAML::Exception&) {
        }
      }
      flatten(kv.second, prefix.empty() ? key : prefix + "/" + key, u);
    }
    return;
  }
  if (!n.IsScalar() || prefix.empty()) return;
  const std::string s = n.Scalar();
  if (s == "true" || s == "false") {
    u.scalars.emplace_back(prefix, s == "true" ? 1.0 : 0.0);
    return;
  }
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size()) u.scalars.emplace_back(prefix, v);
  } catch (const std::exception&) {  // text: not a metric here
  }
}

}  // namespace

SummaryFilesFollower::SummaryFilesFollower(std::vector<std::string> paths, Warn warn)
    : paths_(std::move(paths)), warn_(std::move(warn)) {
  for (const auto& p : paths_) seen_[p] = file_identity(p);
}

void SummaryFilesFollower::poll(const OnUpdate& on_update) {
  for (const auto& path : paths_) {
    const std::string now = file_identity(path);
    if (now.empty() || now == seen_[path]) continue;
    seen_[path] = now;
    MetricUpdate u;
    try {
      flatten(YAML::LoadFile(path), "", u);
    } catch (const YAML::Exception& e) {
      warn_(path + ":" + std::to_string(e.mark.line + 1) + ": not JSON or YAML (" + e.msg + "): not read");
      continue;
    }
    if (!u.scalars.empty()) on_update(std::move(u));
  }
}

}  // namespace cadenza::script
