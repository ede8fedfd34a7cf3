// An experiment is the workflow with overrides, run in a directory of its
// own inside the workspace and sharing the workspace's cache:
//
//   .cadenza/exps/<name>/experiment.json   its record (experiment_record.h)
//   .cadenza/exps/<name>/workflow.lock     what produced its outputs
//   .cadenza/exps/<name>/runs/, run.lock   its runs, one live run at a time
//   .cadenza/exps/<name>/ws/<out path>     its outputs
//   .cadenza/exps/<name>/ws/               its working tree: where its stages
//                                          run (experiment_tree.h)
//
// Inputs that no stage produces are read from the workspace itself; outputs,
// and deps on them, move under ws/, and so do the params files it edits. Paths under ws/ enter cache keys as if
// they were in the workspace (stage_key.h), so an experiment's stage run
// that matches the workspace's, or another experiment's, is one cache entry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "overrides.h"
#include "prepared_workflow.h"

namespace cadenza {

// <workspace>/.cadenza/exps
std::string experiments_root(const std::string& workspace);
// <workspace>/.cadenza/exps/<name>: the experiment's state (record, lock, runs).
std::string experiment_dir(const std::string& workspace, const std::string& name);
// .cadenza/exps/<name>/ws, relative to the workspace: where its outputs live.
std::string experiment_outputs_dir(const std::string& name);

// Turns a parsed workflow into experiment `name`'s (see above).
void make_experiment(Workflow& wf, const std::string& name);

// The workflow at `workflow_path` with `variant` applied, as experiment
// `name`, checked end to end. Throws Error (an override naming an unknown
// stage or param, a value its plugin refuses, ...).
// `only`: run these stages and what they need (like `run --stage`).
std::unique_ptr<PreparedWorkflow> load_experiment(const std::string& workflow_path,
                                                  const std::string& name, const Variant& variant,
                                                  const std::vector<std::string>& only = {});

// A name is one path component of safe characters. Throws Error otherwise.
void check_experiment_name(const std::string& name);

}  // namespace cadenza
