// Hands what a script's channels report (its metrics file, dvclive's files,
// its output lines) to the engine through the SDK's MetricsEmitter, the one
// path into status, stop rules, sinks and experiment records.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <sndfile.h>

#include "cadenza/sdk/stage.h"
#include "metric_lines.h"

namespace cadenza::script {

class MetricForwarder {
 public:
  // `cwd`: the script's working directory, for relative audio paths.
  MetricForwarder(sdk::StageContext& ctx, std::string cwd) : ctx_(ctx), cwd_(std::move(cwd)) {}

  // One per channel: a line without a step takes that channel's last one.
  OnUpdate channel();
  Warn warn();
  // Passes the latest progress on again if the engine may have dropped it:
  // it writes progress at most twice a second, so the last of a quick burst
  // (epoch 2 right after epoch 1, then a long epoch) would wait. Call often.
  void refresh_progress();

 private:
  void apply(MetricUpdate& u, int64_t& last_step);
  void audio(const std::string& tag, const std::string& path, int64_t step);
  void encoded_audio(const std::string& tag, const std::string& bytes, int64_t step);
  void emit_audio(const std::string& tag, SNDFILE* file, const SF_INFO& info, const std::string& what, int64_t step);

  sdk::StageContext& ctx_;
  std::string cwd_;
  std::optional<MetricUpdate::Progress> progress_;
  bool progress_stale_ = false;
  std::chrono::steady_clock::time_point progress_at_{};
};

}  // namespace cadenza::script
