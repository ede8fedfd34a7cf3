// Cadenza SDK — metrics a stage emits while it runs.
//
// A stage calls these through StageContext::metrics(). The engine appends
// every call to the stage run's JSON-lines metrics file (its own record, read
// by `cadenza status`) and forwards it to each metric sink configured for the
// stage (e.g. sink_tensorboard). Calls are cheap and may come from any one
// thread at a time; a stage that emits from several threads must serialise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cadenza/sdk/visibility.h"

namespace cadenza::sdk {

class CADENZA_API_VISIBLE MetricsEmitter {
 public:
  virtual ~MetricsEmitter() = default;

  // One value of a time series, e.g. ("train/loss", 0.031, epoch).
  virtual void scalar(std::string_view tag, double value, int64_t step) = 0;

  // Free text (Markdown in TensorBoard), e.g. a model summary.
  virtual void text(std::string_view tag, std::string_view text, int64_t step) = 0;

  // A clip of audio: `frames` frames of `channels` interleaved float samples
  // in [-1, 1] at `sample_rate`. The callee copies what it needs.
  virtual void audio(std::string_view tag, const float* samples, size_t frames, int channels,
                     int sample_rate, int64_t step) = 0;
};

}  // namespace cadenza::sdk
