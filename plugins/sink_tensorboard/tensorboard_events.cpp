#include "tensorboard_events.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "proto_writer.h"
#include "wire_fields.h"

namespace cadenza::tensorboard {

namespace {

// Field numbers and constants: the wire description shared with the reader.
using namespace wire;

ProtoWriter event_header(double wall_time, int64_t step) {
  ProtoWriter e;
  e.double_field(event::kWallTime, wall_time);
  if (step != 0) e.varint_field(event::kStep, static_cast<uint64_t>(step));  // proto3: 0 is absent
  return e;
}

std::string with_value(double wall_time, int64_t step, const ProtoWriter& v) {
  ProtoWriter s;
  s.message_field(summary::kValue, v);
  ProtoWriter e = event_header(wall_time, step);
  e.message_field(event::kSummary, s);
  return e.bytes();
}

ProtoWriter plugin_metadata(std::string_view plugin, std::string_view content, int data_class) {
  ProtoWriter pd;
  pd.bytes_field(plugin_data::kPluginName, plugin);
  if (!content.empty()) pd.bytes_field(plugin_data::kContent, content);
  ProtoWriter m;
  m.message_field(metadata::kPluginData, pd);
  if (data_class) m.varint_field(metadata::kDataClass, static_cast<uint64_t>(data_class));
  return m;
}

ProtoWriter string_tensor(std::initializer_list<int64_t> dims, std::initializer_list<std::string_view> values) {
  ProtoWriter sh;
  for (int64_t d : dims) {
    ProtoWriter dm;
    dm.varint_field(dim::kSize, static_cast<uint64_t>(d));
    sh.message_field(shape::kDim, dm);
  }
  ProtoWriter t;
  t.varint_field(tensor::kDtype, kDtString);
  t.message_field(tensor::kShape, sh);
  for (auto v : values) t.bytes_field(tensor::kStringVal, v);
  return t;
}

// An empty DT_FLOAT tensor of shape [0], as the HParams plugin writes.
ProtoWriter empty_float_tensor() {
  ProtoWriter dm;  // dim{size: 0}: the size field is absent
  ProtoWriter sh;
  sh.message_field(shape::kDim, dm);
  ProtoWriter t;
  t.varint_field(tensor::kDtype, kDtFloat);
  t.message_field(tensor::kShape, sh);
  return t;
}

std::string hparams_event(double wall_time, std::string_view tag, std::string_view plugin_content) {
  ProtoWriter v;
  v.bytes_field(value::kTag, tag);
  v.message_field(value::kMetadata, plugin_metadata("hparams", plugin_content, 0));
  v.message_field(value::kTensor, empty_float_tensor());
  return with_value(wall_time, 0, v);
}

}  // namespace

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string file_version_event(double wall_time) {
  ProtoWriter e = event_header(wall_time, 0);
  e.bytes_field(event::kFileVersion, "brain.Event:2");
  return e.bytes();
}

std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float v) {
  ProtoWriter val;
  val.bytes_field(value::kTag, tag);
  val.float_field(value::kSimpleValue, v);
  return with_value(wall_time, step, val);
}

std::string text_event(double wall_time, int64_t step, std::string_view tag, std::string_view text) {
  ProtoWriter v;
  v.bytes_field(value::kTag, tag);
  v.message_field(value::kMetadata, plugin_metadata("text", "", 0));
  v.message_field(value::kTensor, string_tensor({1}, {text}));
  return with_value(wall_time, step, v);
}

std::string wav_pcm16(const float* samples, size_t frames, int channels, int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(frames * static_cast<size_t>(channels) * 2);
  std::string out = "RIFF";
  auto put = [&out](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(36 + data_bytes, 4);
  out += "WAVEfmt ";
  put(16, 4);
  put(1, 2);  // PCM
  put(static_cast<uint64_t>(channels), 2);
  put(static_cast<uint64_t>(sample_rate), 4);
  put(static_cast<uint64_t>(sample_rate) * static_cast<uint64_t>(channels) * 2, 4);
  put(static_cast<uint64_t>(channels) * 2, 2);
  put(16, 2);
  out += "data";
  put(data_bytes, 4);
  for (size_t i = 0; i < frames * static_cast<size_t>(channels); ++i) {
    const float s = std::isfinite(samples[i]) ? std::clamp(samples[i], -1.0f, 1.0f) : 0.0f;
    put(static_cast<uint16_t>(static_cast<int16_t>(std::lround(s * 32767.0f))), 2);
  }
  return out;
}

std::string audio_event(double wall_time, int64_t step, std::string_view tag, const float* samples,
                        size_t frames, int channels, int sample_rate) {
  const std::string wav = wav_pcm16(samples, frames, channels, sample_rate);
  ProtoWriter v;
  v.bytes_field(value::kTag, tag);
  // AudioPluginData{version: 0, encoding: WAV (11)}
  v.message_field(value::kMetadata, plugin_metadata("audio", std::string("\x10\x0b", 2), kBlobSequence));
  v.message_field(value::kTensor, string_tensor({1, 2}, {wav, ""}));
  return with_value(wall_time, step, v);
}

std::string session_start_event(double wall_time, const std::map<std::string, HParamValue>& hp,
                                std::string_view group_name) {
  ProtoWriter start;
  for (const auto& [name, val] : hp) {
    ProtoWriter pv;
    if (auto* d = std::get_if<double>(&val)) pv.double_field(proto_value::kNumber, *d);
    else if (auto* s = std::get_if<std::string>(&val)) pv.bytes_field(proto_value::kString, *s);
    else pv.varint_field(proto_value::kBool, std::get<bool>(val) ? 1 : 0);
    ProtoWriter entry;  // map<string, Value> entry
    entry.bytes_field(1, name);
    entry.message_field(2, pv);
    start.message_field(session_start::kHparams, entry);
  }
  start.bytes_field(session_start::kGroupName, group_name);
  start.double_field(session_start::kStartTime, wall_time);
  ProtoWriter content;
  content.message_field(hparams::kSessionStart, start);
  return hparams_event(wall_time, "_hparams_/session_start_info", content.bytes());
}

std::string experiment_event(double wall_time, const std::map<std::string, HParamType>& hp,
                             const std::vector<MetricColumn>& metrics) {
  ProtoWriter exp;
  exp.double_field(experiment::kTimeCreated, wall_time);
  for (const auto& [name, type] : hp) {
    ProtoWriter info;
    info.bytes_field(hparam_info::kName, name);
    info.varint_field(hparam_info::kType, static_cast<uint64_t>(type));
    exp.message_field(experiment::kHparamInfos, info);
  }
  for (const auto& m : metrics) {
    ProtoWriter name;
    if (!m.group.empty()) name.bytes_field(metric_name::kGroup, m.group);
    name.bytes_field(metric_name::kTag, m.tag);
    ProtoWriter info;
    info.message_field(metric_info::kName, name);
    exp.message_field(experiment::kMetricInfos, info);
  }
  ProtoWriter content;
  content.message_field(hparams::kExperiment, exp);
  return hparams_event(wall_time, "_hparams_/experiment", content.bytes());
}

std::string session_end_content(double end_time, SessionStatus status) {
  ProtoWriter end;
  if (status != SessionStatus::kUnknown) end.varint_field(session_end::kStatus, static_cast<uint64_t>(status));
  end.double_field(session_end::kEndTime, end_time);
  ProtoWriter content;
  content.message_field(hparams::kSessionEnd, end);
  return content.bytes();
}

std::string session_end_event(double wall_time, SessionStatus status) {
  return hparams_event(wall_time, "_hparams_/session_end_info", session_end_content(wall_time, status));
}

}  // namespace cadenza::tensorboard
