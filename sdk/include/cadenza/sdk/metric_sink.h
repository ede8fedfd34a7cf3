// Cadenza SDK — metric sink plugins.
//
// A sink receives the metrics of one stage run (e.g. to write TensorBoard
// event files). It runs inside the stage's process, wherever that runs, so
// several sinks of several stages and experiments may write at the same time:
// a sink must never clobber files another instance writes.
//
// Lifetime: open() once, then any number of metric calls, then close() once;
// all on one thread. A sink that throws PluginError from open() is reported
// and skipped; the stage still runs.
//
// Experiment level (optional): the orchestrator, in its own process and on
// an instance of its own that never sees stage metrics, calls
// begin_experiment() when a run of an experiment (or of the workspace, whose
// experiment is the workflow's name) starts and end_experiment() once when
// it ended, with the run's outcome. This is where a sink keeps one record
// per experiment (TensorBoard's HParams session) and adds the metrics of
// stages that no job ran this time (restored from the cache), which no
// stage-level instance saw. A throw is reported as a warning.
#pragma once

#include <string>

#include "cadenza/sdk/metrics.h"
#include "cadenza/sdk/outcome.h"
#include "cadenza/sdk/error.h"
#include "cadenza/sdk/visibility.h"

namespace cadenza::sdk {

struct SinkRunInfo {
  std::string workflow_name;  // [workflow].name
  std::string experiment;     // experiment name (defaults to the workflow name)
  std::string run_id;         // unique per `cadenza run`
  std::string stage_name;
  std::string workspace;      // absolute path of the workflow's directory
  std::string params_json;    // the stage's resolved params (a JSON object)
  std::string config_json;    // this sink's table from workflow.toml (a JSON object)
  // Every selected stage's resolved params, flattened: {"train.lr": 0.01, ...}
  // (an experiment's hyperparameters, e.g. for TensorBoard's HParams tab).
  std::string workflow_params_json;
};

struct SinkExperimentInfo {
  std::string workflow_name;  // [workflow].name
  std::string experiment;     // experiment name (the workflow name for the workspace)
  std::string run_id;
  std::string workspace;      // absolute path of the workflow's directory
  std::string config_json;    // this sink's table from workflow.toml (a JSON object)
  // The effective params of every selected stage, flattened: {"train.lr": 0.01}.
  std::string hparams_json;
  // What each stage's metrics came to, for the stages that succeeded:
  // {"<stage>": {"restored": bool, "metrics": {"<tag>": {"last", "min", "max", "step"}}}}.
  // "restored": no job of this run produced them (restored from the cache,
  // or up to date from an earlier run: then "up_to_date" is true as well).
  std::string stages_json;
  // [experiments] metrics of the workflow: the columns a user chose
  // ("tag" or "<stage>:tag"); [] when none were chosen.
  std::string metric_columns_json;
};

class CADENZA_API_VISIBLE MetricSink : public MetricsEmitter {
 public:
  virtual void open(const SinkRunInfo& info) = 0;
  // `outcome` is how the stage run ended (outcome.h): a sink sees a time
  // limit or a preemption as such, not as a generic failure.
  virtual void close(Outcome outcome) = 0;

  // See "Experiment level" above. The defaults do nothing.
  virtual void begin_experiment(const SinkExperimentInfo& info) { (void)info; }
  virtual void end_experiment(const SinkExperimentInfo& info, Outcome outcome) {
    (void)info;
    (void)outcome;
  }
};

}  // namespace cadenza::sdk
