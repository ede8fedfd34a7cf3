// A workflow checked end to end and ready to run: parsed, its DAG built,
// every plugin found and described, every stage's params resolved against
// its plugin's schema. Nothing runs and nothing is written to the workspace
// until all of this has succeeded, so a bad workflow.toml can never leave a
// half-run pipeline behind.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "job_spec.h"
#include "plugin_catalog.h"
#include "plugin_finder.h"
#include "stage_graph.h"
#include "workflow.h"

namespace cadenza {

struct PreparedStage {
  const StageDecl* decl = nullptr;
  std::string plugin_path;
  PluginInfo plugin;
  nlohmann::json params;        // resolved, canonical
  std::string backend;          // full name
  std::vector<SinkSpec> sinks;
};

class PreparedWorkflow {
 public:
  // Parses and checks `workflow_path`. With `only` non-empty, plugins are
  // resolved only for those stages and what they need (their closure).
  // Throws Error on the first problem found.
  // `adjust`, when given, changes the parsed workflow before anything is
  // checked (an experiment's overrides and output paths).
  static std::unique_ptr<PreparedWorkflow> load(const std::string& workflow_path,
                                                const std::vector<std::string>& only = {},
                                                const std::function<void(Workflow&)>& adjust = {});

  const Workflow& workflow() const { return *workflow_; }
  const StageGraph& graph() const { return *graph_; }
  const PluginFinder& finder() const { return *finder_; }
  // Indexed like workflow().stages; `selected(i)` says whether it takes part.
  const PreparedStage& stage(size_t i) const { return stages_[i]; }
  bool selected(size_t i) const { return selected_[i]; }
  size_t size() const { return stages_.size(); }
  // Backend plugin paths by full name, for the backends the selection uses.
  const std::map<std::string, std::string>& backend_paths() const { return backend_paths_; }
  // The selected stages' effective params as {"stage.param": value}: an
  // experiment's hyperparameters, as sinks get them.
  nlohmann::json flat_params() const;

 private:
  PreparedWorkflow() = default;

  std::unique_ptr<Workflow> workflow_;
  std::unique_ptr<StageGraph> graph_;
  std::unique_ptr<PluginFinder> finder_;
  std::vector<PreparedStage> stages_;
  std::vector<bool> selected_;
  std::map<std::string, std::string> backend_paths_;
};

}  // namespace cadenza
