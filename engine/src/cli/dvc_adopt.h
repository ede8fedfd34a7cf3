// `cadenza import dvc --adopt`: the outputs a DVC project already computed
// become the imported stages' results, so the first `cadenza run` runs
// nothing. A stage is adopted when its outs, deps and params are what
// dvc.lock recorded (DVC 3's md5: of a file's bytes; of a directory, its
// sorted {"md5", "relpath"} list as dvc-data serialises it, plus ".dir");
// each file is hashed once. Anything else is said, with the file, and that
// stage is left to run.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cadenza {

struct AdoptResult {
  std::vector<std::string> adopted;       // Cadenza stage names
  std::vector<std::string> left_to_run;   // "stage: why"
};

struct ImportedStage {
  std::string name;      // Cadenza's
  std::string dvc_name;  // dvc.lock's
  std::string wdir;      // dvc.lock's paths are relative to it
};

// `workflow_toml`: the imported workflow. Throws Error for a dvc.lock that
// does not parse.
AdoptResult adopt_dvc_outputs(const std::string& workflow_toml, const std::string& dvc_lock,
                              const std::vector<ImportedStage>& stages);

// DVC's md5 of a workspace path (file or directory), as dvc.lock records it.
std::string dvc_md5(const std::string& path);

}  // namespace cadenza
