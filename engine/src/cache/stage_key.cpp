#include "stage_key.h"

namespace cadenza {

Hash128 stage_key(const StageKeyInput& in) {
  nlohmann::json deps = nlohmann::json::object();
  for (const auto& [name, dep] : in.deps)
    deps[name] = {{"path", dep.first}, {"hash", dep.second.hex()}};
  // nlohmann::json keeps object keys sorted and prints numbers in their
  // shortest round-trip form, so dump() is canonical.
  nlohmann::json key = {{"v", 1},
                        {"plugin",
                         {{"name", in.plugin_name},
                          {"version", in.plugin_version},
                          {"binary", in.plugin_hash.hex()}}},
                        {"params", in.params},
                        {"deps", deps},
                        {"outs", in.outs}};
  if (!in.image.empty()) key["image"] = in.image;
  return hash_bytes(key.dump());
}

}  // namespace cadenza
