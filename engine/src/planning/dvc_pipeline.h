// A DVC 3 pipeline (dvc.yaml) read and fully expanded, for `cadenza import
// dvc`: `vars` (inline and from files, params.yaml by default), `${...}`
// templating (a whole-value reference keeps its type), `foreach` (list and
// dict forms) and `matrix` each expanded into one stage per item, `cmd` as
// a string or a list. What has no Cadenza equivalent is kept as a note
// with its dvc.yaml line, never dropped. Errors name dvc.yaml:line:col.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cadenza {

struct DvcOut {
  std::string path;  // relative to the project root (wdir applied)
  bool cache = true;
  bool persist = false;
  std::string desc;
};

struct DvcStage {
  std::string name;  // DVC's: "train", "report@a", "train@0.01-8"
  int line = 0, column = 0;  // of its definition in dvc.yaml
  std::string cmd;   // a list of commands joined with " && "
  std::string wdir;  // "" or the directory the command runs in
  std::string desc;
  std::vector<std::string> deps;  // relative to the project root
  std::vector<DvcOut> outs;  // metrics and plots files included: they are outputs in DVC too
  std::map<std::string, std::vector<std::string>> params;  // file -> keys ([]: the whole file)
  std::vector<std::string> metrics, plots;                 // files, relative to the project root
  bool frozen = false, always_changed = false;
};

struct DvcNote {
  int line = 0;
  std::string stage;  // "" for the whole file
  std::string text;
};

struct DvcPipeline {
  std::vector<DvcStage> stages;
  std::vector<DvcNote> not_carried;  // what Cadenza has no equivalent for
};

// A path as dvc.yaml and dvc.lock write it (relative to the stage's wdir),
// relative to the project root.
std::string dvc_path(const std::string& wdir, const std::string& path);

// Reads `dvc_yaml` (its directory is the project root). Throws Error
// naming dvc.yaml:line:col and what to do.
DvcPipeline read_dvc_pipeline(const std::string& dvc_yaml);

}  // namespace cadenza
