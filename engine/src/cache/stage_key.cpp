#include "stage_key.h"

namespace cadenza {

namespace {

std::string logical(const std::string& path, const std::string& outputs_dir) {
  if (outputs_dir.empty() || path.rfind(outputs_dir + "/", 0) != 0) return path;
  return path.substr(outputs_dir.size() + 1);
}

}  // namespace

Hash128 stage_key(const StageKeyInput& in) {
  nlohmann::json deps = nlohmann::json::object();
  for (const auto& [name, dep] : in.deps)
    deps[name] = {{"path", logical(dep.first, in.outputs_dir)}, {"hash", dep.second.hex()}};
  nlohmann::json outs = nlohmann::json::object();
  for (const auto& [name, path] : in.outs) outs[name] = logical(path, in.outputs_dir);
  // nlohmann::json keeps object keys sorted and prints numbers in their
  // shortest round-trip form, so dump() is canonical.
  nlohmann::json key = {{"v", 1},
                        {"plugin",
                         {{"name", in.plugin_name},
                          {"version", in.plugin_version},
                          {"binary", in.plugin_hash.hex()}}},
                        {"params", in.params},
                        {"deps", deps},
                        {"outs", outs}};
  if (!in.image.empty()) key["image"] = in.image;
  return hash_bytes(key.dump());
}

}  // namespace cadenza
