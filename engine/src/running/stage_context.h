// The engine's implementation of sdk::StageContext, used by exec-stage.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>

#include "cadenza/sdk/stage.h"
#include "job_spec.h"
#include "metrics_recorder.h"

namespace cadenza {

class StageContextImpl : public sdk::StageContext {
 public:
  // `outs_staging` maps out names to their absolute staging paths. All
  // references must outlive the context.
  StageContextImpl(const JobSpec& spec, std::map<std::string, std::string> outs_staging,
                   MetricsRecorder& metrics, const std::atomic<bool>& cancel_flag);

  std::string stage_name() const override { return spec_.stage; }
  std::string params_json() const override { return params_text_; }
  std::string input(std::string_view name) const override;
  std::vector<std::string> input_names() const override;
  std::string output(std::string_view name) const override;
  std::vector<std::string> output_names() const override;
  std::string scratch_dir() const override;
  int cpus() const override { return spec_.cpus; }
  void log(sdk::LogLevel level, std::string_view message) override;
  sdk::MetricsEmitter& metrics() override { return metrics_; }
  bool cancelled() const override { return cancel_flag_.load(); }
  void progress(double done, double total, std::string_view unit) override;

 private:
  const JobSpec& spec_;
  std::string params_text_;
  std::map<std::string, std::string> outs_staging_;
  MetricsRecorder& metrics_;
  const std::atomic<bool>& cancel_flag_;
  std::chrono::steady_clock::time_point last_progress_write_{};
};

}  // namespace cadenza
