// The job spec: everything `cadenza exec-stage` needs to run one stage,
// fully resolved by the orchestrator and written as JSON, so that the stage
// can run in another process, on another machine (a SLURM node), later.
// And the job result that exec-stage writes back.
//
// Both files are versioned (spec_version); exec-stage refuses a spec of
// another version with a message rather than guessing.
#pragma once

#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cadenza/sdk/outcome.h"
#include "content_store.h"

namespace cadenza {

constexpr int kJobSpecVersion = 3;  // 2: time_limit_s, attempt; result "outcome". 3: container, image_id

// Exit codes of `cadenza exec-stage`.
constexpr int kExitStageSucceeded = 0;
constexpr int kExitStageFailed = 1;
constexpr int kExitBadSpec = 2;
constexpr int kExitStageStopped = 3;  // cancelled, timed out or preempted: result.json says which

struct SinkSpec {
  std::string name;  // e.g. "sink_tensorboard"
  std::string path;  // library path
  nlohmann::json config = nlohmann::json::object();
};

// The stage's container (planning/workflow.h ContainerDecl, resolved).
struct ContainerSpec {
  std::string runtime;   // apptainer, singularity, charliecloud, podman
  std::string image;     // absolute path or reference
  bool image_is_reference = false;
  std::vector<std::string> binds;  // the user's extra "src[:dst]"
  std::vector<std::string> extra_args;
  std::string cadenza = "image";   // or "host": bind the host's Cadenza in
  int gpus = 0;
};

struct JobSpec {
  std::string run_id;
  std::string workflow_name;
  std::string experiment;
  std::string stage;
  std::string workspace;     // absolute; deps and outs are relative to it
  std::string plugin_name;
  std::string plugin_version;
  std::string plugin_path;
  std::string cadenza_version;  // of the Cadenza that wrote the spec
  std::optional<ContainerSpec> container;  // run exec-stage inside it
  std::string image_id;      // the container image's identity, for the key (image_identity())
  nlohmann::json params = nlohmann::json::object();  // resolved, canonical
  std::map<std::string, std::string> deps;  // name -> workspace-relative path
  std::map<std::string, std::string> outs;
  std::string outputs_dir;   // an experiment's (workspace-relative), for the key; empty: none
  std::string run_dir;       // absolute; result.json, metrics.jsonl, progress.json
  std::string scratch_dir;   // absolute; exec-stage appends the key: survives failed runs of the same work
  int cpus = 1;
  // The job's time limit as the backend enforces it (0: none). exec-stage
  // compares it with the moment a SIGTERM arrives to tell a time limit from
  // a cancel or a preemption.
  int64_t time_limit_s = 0;
  int attempt = 1;
  std::vector<SinkSpec> sinks;
  std::string stop_when;     // the stage's stop rule (condition.h); empty: none
  nlohmann::json workflow_params = nlohmann::json::object();  // flattened, for sinks
  // The run-cache: where it is and this stage run's key (empty: no caching).
  std::string cache_dir;
  std::string cache_link = "auto";
  bool cache_shared = false;
  std::string key;           // hex; empty: exec-stage computes it from the deps it finds
  bool reuse_cached = true;  // false with `run --force`: always run
};

struct JobResult {
  sdk::Outcome outcome = sdk::Outcome::kFailed;
  std::string error;    // for anything but success: the message for the user
  bool restored = false;  // the outs came from the run-cache; the stage did not run
  std::map<std::string, StoredOutput> outs;  // for succeeded: what each out holds
  double started_at = 0;   // seconds since the epoch
  double finished_at = 0;
  double run_s = 0;        // inside the stage's own run(): the rest is engine time
  double peak_rss_mb = 0;  // the exec-stage process's peak resident memory (what `mem` must cover)
};

nlohmann::json to_json(const JobSpec& spec);
// Throws Error naming `source` and the bad field.
JobSpec job_spec_from_json(const nlohmann::json& j, const std::string& source);

nlohmann::json to_json(const JobResult& result);
JobResult job_result_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace cadenza
