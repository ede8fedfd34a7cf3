// sink_tensorboard: writes a stage run's metrics as TensorBoard event files.
//
// Config ([sinks.tensorboard] in workflow.toml):
//   logdir   = "logs/tensorboard"   relative to the workspace
//   run_name = "<experiment>"       the run directory under logdir
//
// Layout: one run directory per experiment, logdir/<run_name>/; every stage
// run that uses the sink adds its own event file there (unique names, so
// concurrent stages and experiments never clobber each other). Each file
// starts with the HParams session_start_info (the workflow's flattened,
// resolved params, e.g. "train.lr") and ends with session_end_info
// (SUCCESS, or FAILURE for a failed or cancelled stage), so in TensorBoard's
// HPARAMS tab each experiment is one row whose metrics are its scalars.
//
//   tensorboard --logdir logs/tensorboard
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "cadenza/sdk/export.h"
#include "cadenza/sdk/metric_sink.h"
#include "event_writer.h"
#include "tensorboard_events.h"

namespace cadenza::tensorboard {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::map<std::string, HParamValue> hparams_from(const nlohmann::json& flat) {
  std::map<std::string, HParamValue> out;
  for (const auto& [key, v] : flat.items()) {
    if (v.is_boolean()) out[key] = v.get<bool>();
    else if (v.is_number()) out[key] = v.get<double>();
    else if (v.is_string()) out[key] = v.get<std::string>();
    else out[key] = v.dump();  // lists: their JSON text
  }
  return out;
}

class TensorBoardSink : public sdk::MetricSink {
 public:
  void open(const sdk::SinkRunInfo& info) override {
    nlohmann::json config = nlohmann::json::parse(info.config_json);
    std::string logdir = "logs/tensorboard", run_name = info.experiment;
    for (const auto& [key, v] : config.items()) {
      if (!v.is_string() || v.get<std::string>().empty())
        throw sdk::PluginError("[sinks.tensorboard]." + key + " must be a non-empty string");
      if (key == "logdir") logdir = v.get<std::string>();
      else if (key == "run_name") run_name = v.get<std::string>();
      else throw sdk::PluginError("[sinks.tensorboard]: unknown key '" + key + "' (known: logdir, run_name)");
    }
    if (logdir.front() != '/') logdir = info.workspace + "/" + logdir;
    const double t = now_s();
    try {
      writer_ = std::make_unique<EventWriter>(logdir + "/" + run_name, t);
    } catch (const std::exception& e) {
      throw sdk::PluginError(e.what());
    }
    auto flat = nlohmann::json::parse(info.workflow_params_json.empty() ? "{}" : info.workflow_params_json);
    if (flat.empty())
      for (const auto& [key, v] : nlohmann::json::parse(info.params_json).items())
        flat[info.stage_name + "." + key] = v;
    write(session_start_event(t, hparams_from(flat), run_name));
  }

  void scalar(std::string_view tag, double value, int64_t step) override {
    write(scalar_event(now_s(), step, tag, static_cast<float>(value)));
  }
  void text(std::string_view tag, std::string_view text, int64_t step) override {
    write(text_event(now_s(), step, tag, text));
  }
  void audio(std::string_view tag, const float* samples, size_t frames, int channels, int sample_rate,
             int64_t step) override {
    write(audio_event(now_s(), step, tag, samples, frames, channels, sample_rate));
  }
  void close(sdk::Outcome outcome) override {
    // TensorBoard knows only success and failure for a finished session.
    write(session_end_event(now_s(), outcome == sdk::Outcome::kSucceeded ? SessionStatus::kSuccess
                                                                        : SessionStatus::kFailure));
    writer_.reset();
  }

 private:
  void write(const std::string& event) {
    if (!writer_) throw sdk::PluginError("sink_tensorboard used before open()");
    try {
      writer_->write(event);
    } catch (const std::exception& e) {
      throw sdk::PluginError(e.what());
    }
  }
  std::unique_ptr<EventWriter> writer_;
};

}  // namespace

}  // namespace cadenza::tensorboard

CADENZA_SINK_PLUGIN(cadenza::tensorboard::TensorBoardSink, "sink_tensorboard", "1.0.0",
                    "Writes metrics, audio, text and hparams as TensorBoard event files")
