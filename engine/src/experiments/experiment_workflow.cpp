#include "experiment_workflow.h"

#include <set>

#include "error.h"

namespace cadenza {

namespace {

bool within(const std::string& path, const std::string& dir) {
  return path == dir || path.rfind(dir + "/", 0) == 0;
}

}  // namespace

std::string experiments_root(const std::string& workspace) { return workspace + "/.cadenza/exps"; }

std::string experiment_dir(const std::string& workspace, const std::string& name) {
  return experiments_root(workspace) + "/" + name;
}

std::string experiment_outputs_dir(const std::string& name) { return ".cadenza/exps/" + name + "/ws"; }

void check_experiment_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 200 && name[0] != '.' && name[0] != '-';
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || std::string("._=,+-").find(c) != std::string::npos);
  if (!ok)
    throw Error("experiment name '" + name + "' is not usable: use letters, digits and . _ = , + - "
                "(not first: . or -), at most 200 characters");
}

void make_experiment(Workflow& wf, const std::string& name) {
  check_experiment_name(name);
  wf.experiment = name;
  wf.experiment_state_dir = experiment_dir(wf.workspace, name);
  wf.outputs_dir = experiment_outputs_dir(name);
  std::set<std::string> produced;
  for (const auto& s : wf.stages)
    for (const auto& [n, out] : s.outs) produced.insert(out.path);
  for (auto& s : wf.stages) {
    for (auto& [n, out] : s.outs) out.path = wf.outputs_dir + "/" + out.path;
    for (auto& [n, dep] : s.deps) {
      bool moves = false;
      for (const auto& out : produced) moves = moves || within(dep.path, out) || within(out, dep.path);
      if (moves) dep.path = wf.outputs_dir + "/" + dep.path;
    }
  }
}

std::unique_ptr<PreparedWorkflow> load_experiment(const std::string& workflow_path,
                                                  const std::string& name, const Variant& variant,
                                                  const std::vector<std::string>& only) {
  return PreparedWorkflow::load(workflow_path, only, [&](Workflow& wf) {
    apply_overrides(wf, variant);
    make_experiment(wf, name);
  });
}

}  // namespace cadenza
