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

class CADENZA_API_VISIBLE MetricSink : public MetricsEmitter {
 public:
  virtual void open(const SinkRunInfo& info) = 0;
  // `outcome` is how the stage run ended (outcome.h): a sink sees a time
  // limit or a preemption as such, not as a generic failure.
  virtual void close(Outcome outcome) = 0;
};

}  // namespace cadenza::sdk
