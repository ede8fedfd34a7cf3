// The engine's own record of a stage run's metrics, and the fan-out to sinks.
//
// Every metric call is appended as one JSON line to <run_dir>/metrics.jsonl
// (flushed per line, so `cadenza status` can read the latest values while the
// stage runs) and forwarded to each configured MetricSink. Audio clips are
// also written as float WAV files under <run_dir>/audio/. A sink that throws
// is reported once on stderr and dropped; it never fails the stage.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cadenza/sdk/metric_sink.h"
#include "condition.h"

namespace cadenza {

// The scalars of a metrics.jsonl as {tag: {"last", "min", "max", "step"}}
// (step: of the last value). A torn last line is ignored; no file: {}.
nlohmann::json summarize_metrics(const std::string& metrics_jsonl);

class MetricsRecorder : public sdk::MetricsEmitter {
 public:
  // Appends to <run_dir>/metrics.jsonl, opened at the first metric. Throws
  // Error if it cannot be opened then.
  explicit MetricsRecorder(const std::string& run_dir);
  ~MetricsRecorder() override;
  MetricsRecorder(const MetricsRecorder&) = delete;
  MetricsRecorder& operator=(const MetricsRecorder&) = delete;

  // `name` is used in warnings. The recorder shares ownership of the sink.
  void add_sink(std::string name, std::shared_ptr<sdk::MetricSink> sink);
  // Checks `rule` after every scalar against the latest value of each tag
  // (and `epoch` / `step`: the latest scalar's step); the first time it
  // holds, `on_stop` gets the reason ("stopped by rule `...` at step 3:
  // val/esr = 0.73"). Throws Error for a rule that does not parse.
  void set_stop_rule(const std::string& rule, std::function<void(const std::string&)> on_stop);
  // The metrics the stop rule names that the stage never reported (not
  // `epoch`/`step`): a rule on them could not fire.
  std::vector<std::string> unreported_rule_metrics() const;
  // Closes every sink with `outcome`; call once, before destruction.
  void close_sinks(sdk::Outcome outcome);

  void scalar(std::string_view tag, double value, int64_t step) override;
  void text(std::string_view tag, std::string_view text, int64_t step) override;
  void audio(std::string_view tag, const float* samples, size_t frames, int channels,
             int sample_rate, int64_t step) override;

 private:
  template <typename Fn>
  void forward(Fn&& fn);
  void append(const std::string& line);

  void check_stop_rule(int64_t step);

  std::string run_dir_;
  std::FILE* file_ = nullptr;
  std::optional<Condition> rule_;
  std::string rule_text_;
  std::function<void(const std::string&)> on_stop_;
  std::map<std::string, double, std::less<>> latest_;  // tag -> value, for the rule
  bool stopped_ = false;
  struct NamedSink {
    std::string name;
    std::shared_ptr<sdk::MetricSink> sink;
  };
  std::vector<NamedSink> sinks_;
};

// Writes interleaved float samples as a 32-bit float WAV file. Throws Error.
void write_float_wav(const std::string& path, const float* samples, size_t frames, int channels,
                     int sample_rate);

}  // namespace cadenza
