// The in-memory model of a workflow.toml, as parsed and before plugins are
// consulted. Every value a user wrote keeps its source position so that any
// later check (param schema, DAG) can point at the exact line.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "error.h"

namespace cadenza {

struct ValueAt {
  ValueAt() = default;
  ValueAt(nlohmann::json v, SourcePos p) : value(std::move(v)), pos(std::move(p)) {}

  nlohmann::json value;
  SourcePos pos;
  // Set by an experiment's override (overrides.h): the value workflow.toml
  // had before it (null: the key was not written there). A param the
  // workflow declares by its value alone (a script's own) keeps that type.
  bool overridden = false;
  nlohmann::json written;
};

// A dep or out: a path relative to the workspace, normalised.
struct PathDecl {
  std::string path;
  SourcePos pos;
};

struct ResourceDecl {
  int cpus = 1;
  int gpus = 0;
  uint64_t mem_bytes = 0;
  int64_t time_limit_s = 0;
};

// How a stage is retried: [workflow] retries / retry_mem_factor /
// retry_time_factor are the defaults, the same keys in a stage override them.
struct RetryDecl {
  int retries = 0;           // further attempts after the first (preemptions do not count)
  double mem_factor = 2.0;   // out of memory: the next attempt asks for mem x this
  double time_factor = 2.0;  // time limit: the next attempt asks for time x this
};

// Where a stage runs its exec-stage: inside a container image ([container]
// for every stage, `container = {...}` in a stage to change keys, or
// `container = false` for none). See running/container_command.h.
struct ContainerDecl {
  std::string image;           // absolute path (.sif, SquashFS, directory) or an OCI reference
  std::string image_as_written;
  bool image_is_reference = false;  // docker://…@sha256:… and the like: the digest is its identity
  std::string runtime = "apptainer";  // apptainer, singularity, charliecloud, podman
  std::vector<std::string> binds;       // extra "src[:dst]", as written
  std::vector<std::string> extra_args;  // given to the runtime as they are
  std::string cadenza = "image";        // "image": the image carries this Cadenza at the same paths;
                                        // "host": the host's binary and plugins are bound in
  SourcePos pos;
};

// The keys of one params file a stage depends on (params_files): only their
// values enter its key, so another key, a comment or the layout reruns
// nothing. No keys: every value in the file.
struct ParamsFileKeys {
  std::string path;               // workspace-relative, normalised
  std::vector<std::string> keys;  // dotted: "train.lr"
  SourcePos pos;
};

// An experiment's edit of one params file key (`--set params.yaml:train.lr=0.1`).
struct ParamsFileEdit {
  std::string key;
  nlohmann::json value;
  std::string source;  // the override, for errors
};

struct StageDecl {
  std::string name;
  SourcePos pos;                          // of the [stages.<name>] header
  std::string plugin;                     // full name, e.g. "stage_preprocess"
  SourcePos plugin_pos;
  std::string description;
  std::map<std::string, ValueAt> params;  // as written, before resolution
  std::map<std::string, PathDecl> deps;   // by name, as the plugin asks for them
  std::map<std::string, PathDecl> outs;
  ResourceDecl resources;
  std::optional<int> retries;             // override the workflow's RetryDecl
  std::optional<double> retry_mem_factor;
  std::optional<double> retry_time_factor;
  std::optional<std::string> backend;     // overrides the workflow's
  nlohmann::json backend_config = nlohmann::json::object();
  std::optional<std::vector<std::string>> sinks;  // overrides the workflow's
  std::optional<ContainerDecl> container;  // resolved: the workflow's [container] with the stage's keys
  std::string stop_when;  // a condition.h rule over the stage's metrics; empty: none
  std::vector<ParamsFileKeys> params_files;
};

struct Workflow {
  std::string file;       // absolute path of workflow.toml
  std::string workspace;  // absolute path of its directory; all paths are relative to it
  std::string name;
  std::string experiment;               // defaults to name
  std::string backend = "backend_local";
  std::vector<std::string> sinks;       // full plugin names
  std::map<std::string, nlohmann::json> backend_configs;  // [backends.<full name>]
  std::map<std::string, nlohmann::json> sink_configs;     // [sinks.<full name>]
  std::map<std::string, ValueAt> shared_params;           // [params]
  std::vector<std::string> plugin_paths;                  // absolute
  std::string cache_dir;                                  // absolute
  std::string cache_link = "auto";      // how outputs are restored from the cache
  bool cache_shared = false;            // group-writable cache files
  std::string remote;                   // push/pull target as written (remote.h parses it)
  RetryDecl retry;                      // defaults for every stage
  std::optional<ContainerDecl> container;  // [container]: the default for every stage
  std::vector<StageDecl> stages;        // in file order
  std::vector<std::string> exp_metrics; // [experiments] metrics: exp show's default columns
  std::vector<std::string> exp_maximize;  // [experiments] maximize: higher is better for these

  // Set for an experiment (experiment_workflow.h): its outputs live under
  // outputs_dir (workspace-relative) and its runs, lock and stat cache in
  // experiment_state_dir (absolute); empty for the workspace itself.
  std::string outputs_dir;
  std::string experiment_state_dir;
  // An experiment's own values for params file keys, by the file's
  // workspace-relative path: its copy of the file (under outputs_dir) has
  // them in place of the workspace's.
  std::map<std::string, std::vector<ParamsFileEdit>> params_file_edits;

  const StageDecl* find_stage(const std::string& name) const;
  // The backend and sinks that apply to a stage after overrides.
  const std::string& backend_for(const StageDecl& stage) const;
  const std::vector<std::string>& sinks_for(const StageDecl& stage) const;
  RetryDecl retry_for(const StageDecl& stage) const;
  // Where this workflow keeps runs, logs and caches of its own.
  std::string state_dir() const;
  // workflow.lock beside workflow.toml, or in the experiment's state dir.
  std::string lock_path() const;
};

// The state directory of the workflow file at `path` (<its directory>/.cadenza),
// derived from the path alone: commands that only read runs (live status,
// logs, cancel) need not parse the workflow. Throws Error if there is no
// such file, with the same message as parse_workflow_file.
std::string workflow_state_dir(const std::string& path);
// The absolute directory of the workflow file at `path` (its workspace).
std::string workflow_workspace_dir(const std::string& path);
// <dir>/<workflow file's stem>.lock: workflow.toml's lock is workflow.lock.
std::string lock_file_for(const std::string& workflow_file, const std::string& dir);

// "local" -> "backend_local"; names that already carry the prefix are kept.
std::string full_plugin_name(const std::string& kind, const std::string& name);

}  // namespace cadenza
