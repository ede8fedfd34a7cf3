// The cache key of one stage run, computed the same way by the orchestrator
// and by `exec-stage` on a node (for jobs submitted before their inputs
// existed). See workspace_cache.h for what enters it and why.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "hash.h"

namespace cadenza {

struct StageKeyInput {
  std::string plugin_name;
  std::string plugin_version;
  Hash128 plugin_hash;
  nlohmann::json params;                              // resolved, canonical
  std::map<std::string, std::pair<std::string, Hash128>> deps;  // name -> (path, hash)
  std::map<std::string, std::string> outs;            // name -> path
  std::string image;                                  // empty: none
  // An experiment keeps its outputs under its own directory; paths under it
  // enter the key as if they were in the workspace, so identical work in two
  // experiments is one cache entry whatever the experiment is called.
  std::string outputs_dir;                            // workspace-relative; empty: none
};

Hash128 stage_key(const StageKeyInput& in);

}  // namespace cadenza
