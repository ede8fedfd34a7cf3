// The params file keys a stage tracks (StageDecl::params_files), as the
// stage will see them: the workspace's file, with an experiment's own edits.
//
// Their values join the stage's resolved params under "<file>:<key>"
// (params.yaml:train.lr), so they enter its cache key, the lock, the
// experiment records, `exp show` and the HPARAMS rows like any param, and
// `status` names the key that changed. A ':' cannot appear in a plugin's
// param name, so they never collide.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "params_file.h"
#include "workflow.h"

namespace cadenza {

// "params.yaml" + "train.lr" -> "params.yaml:train.lr"
std::string tracked_param_name(const std::string& file, const std::string& key);
// True for a name made by tracked_param_name.
bool is_tracked_param_name(const std::string& name);

// Reads each params file once, with the experiment's edits applied.
class TrackedParams {
 public:
  explicit TrackedParams(const Workflow& workflow) : wf_(workflow) {}

  // The file at workspace-relative `path` as the stages see it. Throws Error
  // (unreadable, not parseable, an edit it cannot make).
  const ParamsFile& file(const std::string& path);

  // {"params.yaml:train.lr": 0.01, ...} for `stage`. Throws Error at the
  // stage's params_files entry for a key the file does not have.
  nlohmann::json values_for(const StageDecl& stage);

 private:
  const Workflow& wf_;
  std::map<std::string, ParamsFile> files_;
};

}  // namespace cadenza
