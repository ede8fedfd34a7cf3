// The experiment-level half of the metric sinks (sdk/metric_sink.h): the
// orchestrator's own instance of every sink the run's stages use, told when
// the run starts and how it ended, with what each stage's metrics came to,
// so that a sink can keep one record per experiment (TensorBoard's HParams
// session) and show the metrics of stages restored from the cache.
//
// A sink that fails here is reported as a warning and dropped: metrics are
// never a reason for a run to fail.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cadenza/sdk/metric_sink.h"
#include "prepared_workflow.h"

namespace cadenza {

// How one stage that succeeded ended up, as end_experiment() reports it.
struct StageMetrics {
  std::string stage;
  bool restored = false;    // no job of this run produced its outputs
  bool up_to_date = false;  // ... because an earlier run did
  nlohmann::json metrics = nlohmann::json::object();  // {tag: {last, min, max, step}}
};

class ExperimentSinks {
 public:
  // Loads the sinks of the selected stages (each plugin once). `warnings`
  // must outlive this object.
  ExperimentSinks(const PreparedWorkflow& pw, std::string run_id, std::ostream& warnings);
  ~ExperimentSinks();

  void begin();
  // Once, when the run is over.
  void end(sdk::Outcome outcome, const std::vector<StageMetrics>& stages);

 private:
  struct Sink {
    std::string name;
    std::string config_json;
    std::shared_ptr<sdk::MetricSink> sink;
  };
  sdk::SinkExperimentInfo info_for(const Sink& s) const;
  template <typename Call>
  void each(const char* what, Call call);

  const PreparedWorkflow& pw_;
  std::string run_id_;
  std::ostream& warnings_;
  std::string hparams_json_;
  std::string stages_json_ = "{}";
  std::vector<Sink> sinks_;
};

// The run's outcome from its stages' outcomes: succeeded when all did,
// else the first failure-like outcome (failed, timed out, ...), else
// cancelled (a stop rule, a cancel) or not run.
sdk::Outcome run_outcome(const std::vector<sdk::Outcome>& stage_outcomes);

}  // namespace cadenza
