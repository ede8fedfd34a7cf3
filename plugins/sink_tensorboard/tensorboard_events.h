// Serialized TensorBoard Event messages, built by hand from the public field
// numbers (tensorboard/compat/proto/{event,summary,tensor}.proto and the
// audio, text and hparams plugins' protos). Each function returns the
// Event's bytes, ready for EventWriter::write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cadenza::tensorboard {

// Seconds since the epoch: an event's wall_time.
double now_seconds();

std::string file_version_event(double wall_time);
std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float value);
// Text plugin: a DT_STRING tensor of shape [1].
std::string text_event(double wall_time, int64_t step, std::string_view tag, std::string_view text);
// Audio plugin: a DT_STRING tensor [[wav, label]] holding a 16-bit PCM WAV.
std::string audio_event(double wall_time, int64_t step, std::string_view tag, const float* samples,
                        size_t frames, int channels, int sample_rate);

using HParamValue = std::variant<double, std::string, bool>;
// HParams plugin: `_hparams_/session_start_info` and `_hparams_/session_end_info`.
std::string session_start_event(double wall_time, const std::map<std::string, HParamValue>& hparams,
                                std::string_view group_name);
enum class SessionStatus { kUnknown = 0, kSuccess = 1, kFailure = 2, kRunning = 3 };
std::string session_end_event(double wall_time, SessionStatus status);

// HParams plugin: `_hparams_/experiment`, the columns of the HPARAMS tab:
// every hparam with its type, and the metrics as (group, tag), where group
// is the run sub-directory (below a session's directory) holding the scalar.
enum class HParamType { kString = 1, kBool = 2, kFloat64 = 3 };
struct MetricColumn {
  std::string group;
  std::string tag;
};
std::string experiment_event(double wall_time, const std::map<std::string, HParamType>& hparams,
                             const std::vector<MetricColumn>& metrics);

// The content bytes of the HParams plugin data for a session end (for tests).
std::string session_end_content(double end_time, SessionStatus status);

// A complete RIFF WAV file, 16-bit PCM, of interleaved float samples in [-1, 1].
std::string wav_pcm16(const float* samples, size_t frames, int channels, int sample_rate);

}  // namespace cadenza::tensorboard
