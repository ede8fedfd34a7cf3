#include "experiment_sinks.h"

#include <set>

#include "plugin_library.h"

namespace cadenza {

using nlohmann::json;

ExperimentSinks::ExperimentSinks(const PreparedWorkflow& pw, std::string run_id, std::ostream& warnings)
    : pw_(pw), run_id_(std::move(run_id)), warnings_(warnings), hparams_json_(pw.flat_params().dump()) {
  std::set<std::string> seen;
  for (size_t i = 0; i < pw.size(); ++i) {
    if (!pw.selected(i)) continue;
    for (const auto& spec : pw.stage(i).sinks) {
      if (!seen.insert(spec.path).second) continue;
      try {
        sinks_.push_back({spec.name, spec.config.dump(), PluginLibrary::load(spec.path)->create_sink()});
      } catch (const std::exception& e) {
        warnings_ << "cadenza: warning: metric sink " << spec.name << " has no experiment record this run: "
                  << e.what() << "\n";
      }
    }
  }
}

ExperimentSinks::~ExperimentSinks() = default;

sdk::SinkExperimentInfo ExperimentSinks::info_for(const Sink& s) const {
  const Workflow& wf = pw_.workflow();
  sdk::SinkExperimentInfo info;
  info.workflow_name = wf.name;
  info.experiment = wf.experiment;
  info.run_id = run_id_;
  info.workspace = wf.workspace;
  info.config_json = s.config_json;
  info.hparams_json = hparams_json_;
  info.stages_json = stages_json_;
  info.metric_columns_json = json(wf.exp_metrics).dump();
  return info;
}

// Runs `call` on every sink; one that throws is reported and dropped.
template <typename Call>
void ExperimentSinks::each(const char* what, Call call) {
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    try {
      call(*it->sink, info_for(*it));
      ++it;
    } catch (const std::exception& e) {
      warnings_ << "cadenza: warning: metric sink " << it->name << " failed in " << what << ": " << e.what()
                << "\n";
      it = sinks_.erase(it);
    }
  }
}

void ExperimentSinks::begin() {
  each("begin_experiment", [](sdk::MetricSink& s, const sdk::SinkExperimentInfo& info) { s.begin_experiment(info); });
}

void ExperimentSinks::end(sdk::Outcome outcome, const std::vector<StageMetrics>& stages) {
  json by_stage = json::object();
  for (const auto& st : stages)
    by_stage[st.stage] = {{"restored", st.restored}, {"up_to_date", st.up_to_date}, {"metrics", st.metrics}};
  stages_json_ = by_stage.dump();
  each("end_experiment",
       [&](sdk::MetricSink& s, const sdk::SinkExperimentInfo& info) { s.end_experiment(info, outcome); });
  sinks_.clear();
}

sdk::Outcome run_outcome(const std::vector<sdk::Outcome>& stage_outcomes) {
  bool cancelled = false, not_run = false;
  for (sdk::Outcome o : stage_outcomes) {
    if (o == sdk::Outcome::kSucceeded) continue;
    if (o == sdk::Outcome::kCancelled) cancelled = true;
    else if (o == sdk::Outcome::kNotRun) not_run = true;
    else return o;
  }
  if (cancelled) return sdk::Outcome::kCancelled;
  return not_run ? sdk::Outcome::kNotRun : sdk::Outcome::kSucceeded;
}

}  // namespace cadenza
