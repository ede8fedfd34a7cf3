// `cadenza exp run`: one experiment, or a sweep of them, on the workspace's
// shared cache.
//
// Every variant is checked (overrides against the plugins' schemas) before
// anything runs. Each experiment is an ordinary run in its own directory
// (experiment_workflow.h) under its own run lock, so experiments run side by
// side without a global lock. Work that is identical across variants (with
// the example: synth and preprocess) has the same cache key in each; the
// first exec-stage to reach it holds the key's claim (work_claim.h), the
// others wait and restore its result, so it runs once per sweep. A rerun
// of a sweep finds its experiments by name and runs only what is missing.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "experiment_record.h"
#include "experiment_workflow.h"
#include "orchestrator.h"

namespace cadenza {

struct ExperimentPlan {
  std::string name;
  Variant variant;
  std::unique_ptr<PreparedWorkflow> workflow;
};

// Names and checks every variant. `name`: given by the user (a sweep's
// experiments become <name>-<variant>), or empty for generated names.
// Throws Error (a bad override, a name taken by other overrides).
// `variant_names`: each variant's name (expanded_names()); empty: made
// from the overrides.
std::vector<ExperimentPlan> plan_experiments(const std::string& workflow_path,
                                             const std::vector<Variant>& variants,
                                             const std::string& name,
                                             const std::vector<std::string>& only = {},
                                             const std::vector<std::string>& variant_names = {});

// Experiment `name` of the workflow at `workflow_path` as recorded (its
// overrides), for `status --exp`. Throws Error when there is no such one.
std::unique_ptr<PreparedWorkflow> load_recorded_experiment(const std::string& workflow_path,
                                                           const std::string& name);

// Runs one planned experiment in this process. Returns the run's exit code.
int run_experiment(const ExperimentPlan& plan, const RunOptions& options, std::ostream& out);

// Runs the plans, `parallel` at a time (> 1: each in a child `cadenza exp
// run`, its lines prefixed with its name). When every stage goes to a
// backend that holds dependencies (SLURM), all of them are instead planned
// together by this process (joint_run.h) and `parallel` does not apply: the
// scheduler runs what fits. Returns 0 when all succeeded, 130 when
// interrupted, 1 otherwise.
int run_sweep(std::vector<ExperimentPlan>& plans, const RunOptions& options, int parallel,
              std::ostream& out);

}  // namespace cadenza
