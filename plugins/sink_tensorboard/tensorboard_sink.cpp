// sink_tensorboard: writes metrics as TensorBoard event files, laid out so
// that the HPARAMS tab shows one true row per experiment
// (experiment_session.h has the layout).
//
// Config ([sinks.tensorboard] in workflow.toml):
//   logdir   = "logs/tensorboard"   relative to the workspace
//   run_name = "<experiment>"       the experiment's directory under logdir
//
// A stage run writes its scalars, text and audio into
// logdir/<run_name>/<stage>/ (its own run directory, so two stages that
// report the same tag never interleave their steps); the orchestrator's own
// instance keeps the experiment's HParams session and the logdir's
// `_hparams_/experiment` summary.
//
//   tensorboard --logdir logs/tensorboard
#include <memory>
#include <nlohmann/json.hpp>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/metric_sink.h"
#include "event_writer.h"
#include "experiment_session.h"
#include "tensorboard_events.h"

namespace cadenza::tensorboard {

namespace {

template <typename F>
void as_plugin_error(F f) {
  try {
    f();
  } catch (const sdk::PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw sdk::PluginError(e.what());
  }
}

class TensorBoardSink : public sdk::MetricSink {
 public:
  void open(const sdk::SinkRunInfo& info) override {
    const SinkPaths paths = sink_paths(info.config_json, info.workspace, info.experiment);
    // This run replaces what an earlier run of the stage showed.
    as_plugin_error([&] {
      clear_event_files(paths.stage_dir(info.stage_name));
      writer_ = std::make_unique<EventWriter>(paths.stage_dir(info.stage_name), now_seconds());
    });
  }

  void scalar(std::string_view tag, double value, int64_t step) override {
    write(scalar_event(now_seconds(), step, tag, static_cast<float>(value)));
  }
  void text(std::string_view tag, std::string_view text, int64_t step) override {
    write(text_event(now_seconds(), step, tag, text));
  }
  void audio(std::string_view tag, const float* samples, size_t frames, int channels, int sample_rate,
             int64_t step) override {
    write(audio_event(now_seconds(), step, tag, samples, frames, channels, sample_rate));
  }
  void close(sdk::Outcome) override { writer_.reset(); }

  void begin_experiment(const sdk::SinkExperimentInfo& info) override {
    const SinkPaths paths = sink_paths(info.config_json, info.workspace, info.experiment);
    as_plugin_error([&] { write_session(paths, nlohmann::json::parse(info.hparams_json), now_seconds(), false, 0, false); });
  }

  // The session's end with the run's status (TensorBoard knows success and
  // failure only: a cancel or a stop rule is a failure), the restored
  // stages' metrics, and the logdir's columns.
  void end_experiment(const sdk::SinkExperimentInfo& info, sdk::Outcome outcome) override {
    const SinkPaths paths = sink_paths(info.config_json, info.workspace, info.experiment);
    const auto hparams = nlohmann::json::parse(info.hparams_json);
    const auto stages = nlohmann::json::parse(info.stages_json);
    nlohmann::json tags = nlohmann::json::object();
    as_plugin_error([&] {
      for (const auto& [stage, s] : stages.items()) {
        const auto& metrics = s["metrics"];
        for (const auto& [tag, m] : metrics.items()) tags[stage].push_back(tag);
        std::error_code ec;
        const bool shown = std::filesystem::exists(paths.stage_dir(stage), ec);
        // Up to date: its events are there from the run that made it (unless
        // the logdir was cleared meanwhile).
        if (s.value("restored", false) && (!s.value("up_to_date", false) || !shown))
          write_restored_stage(paths, stage, metrics);
      }
      const double t = now_seconds();
      write_session(paths, hparams, session_start(paths, t), true, t, outcome == sdk::Outcome::kSucceeded);
      update_experiment_summary(paths, hparams, tags, nlohmann::json::parse(info.metric_columns_json));
    });
  }

 private:
  void write(const std::string& event) {
    if (!writer_) throw sdk::PluginError("sink_tensorboard used before open()");
    as_plugin_error([&] { writer_->write(event); });
  }
  std::unique_ptr<EventWriter> writer_;
};

}  // namespace

}  // namespace cadenza::tensorboard

CADENZA_SINK_PLUGIN(cadenza::tensorboard::TensorBoardSink, "sink_tensorboard", "1.1.0",
                    "Writes metrics, audio, text and hparams as TensorBoard event files")
