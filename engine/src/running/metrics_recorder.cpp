#include "metrics_recorder.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "error.h"
#include "wall_clock.h"

namespace cadenza {

using nlohmann::json;

namespace {

std::string safe_file_part(std::string_view tag) {
  std::string out;
  for (char c : tag) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

template <typename T>
void put_le(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

}  // namespace

void write_float_wav(const std::string& path, const float* samples, size_t frames, int channels,
                     int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(frames * channels * sizeof(float));
  std::string header;
  header += "RIFF";
  put_le<uint32_t>(header, 36 + data_bytes);
  header += "WAVEfmt ";
  put_le<uint32_t>(header, 16);
  put_le<uint16_t>(header, 3);  // IEEE float
  put_le<uint16_t>(header, static_cast<uint16_t>(channels));
  put_le<uint32_t>(header, static_cast<uint32_t>(sample_rate));
  put_le<uint32_t>(header, static_cast<uint32_t>(sample_rate * channels * sizeof(float)));
  put_le<uint16_t>(header, static_cast<uint16_t>(channels * sizeof(float)));
  put_le<uint16_t>(header, 32);
  header += "data";
  put_le<uint32_t>(header, data_bytes);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error("cannot write " + path + ": " + std::strerror(errno));
  // Little-endian hosts only (x86-64, aarch64): the samples go out as they are.
  std::fwrite(header.data(), 1, header.size(), f);
  std::fwrite(samples, sizeof(float), frames * channels, f);
  if (std::fclose(f) != 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
}

json summarize_metrics(const std::string& metrics_jsonl) {
  json out = json::object();
  std::ifstream in(metrics_jsonl);
  for (std::string line; std::getline(in, line);) {
    json m;
    try {
      m = json::parse(line);
    } catch (const json::exception&) {
      continue;  // a torn last line: the stage was killed mid-write
    }
    if (m.value("type", "") != "scalar" || !m.contains("value") || !m["value"].is_number()) continue;
    const double v = m["value"];
    json& s = out[m.value("tag", "")];
    if (s.is_null()) s = {{"min", v}, {"max", v}};
    s["last"] = v;
    s["step"] = m.value("step", int64_t{0});
    s["min"] = std::min(s["min"].get<double>(), v);
    s["max"] = std::max(s["max"].get<double>(), v);
  }
  return out;
}

MetricsRecorder::MetricsRecorder(const std::string& run_dir) : run_dir_(run_dir) {}

MetricsRecorder::~MetricsRecorder() {
  if (file_) std::fclose(file_);
}

void MetricsRecorder::add_sink(std::string name, std::shared_ptr<sdk::MetricSink> sink) {
  sinks_.push_back({std::move(name), std::move(sink)});
}

template <typename Fn>
void MetricsRecorder::forward(Fn&& fn) {
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    try {
      fn(*it->sink);
      ++it;
    } catch (const std::exception& e) {
      std::cerr << "warning: metric sink " << it->name << " failed and is disabled: " << e.what()
                << "\n";
      it = sinks_.erase(it);
    }
  }
}

void MetricsRecorder::append(const std::string& line) {
  if (!file_) {
    std::filesystem::create_directories(run_dir_);
    const std::string path = run_dir_ + "/metrics.jsonl";
    file_ = std::fopen(path.c_str(), "ab");
    if (!file_) throw Error("cannot open " + path + ": " + std::strerror(errno));
  }
  std::fputs(line.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

void MetricsRecorder::scalar(std::string_view tag, double value, int64_t step) {
  append(json{{"t", wall_clock_s()}, {"type", "scalar"}, {"tag", tag}, {"step", step}, {"value", value}}
             .dump());
  forward([&](sdk::MetricSink& s) { s.scalar(tag, value, step); });
  if (rule_) {
    latest_[std::string(tag)] = value;
    check_stop_rule(step);
  }
}

void MetricsRecorder::set_stop_rule(const std::string& rule, std::function<void(const std::string&)> on_stop) {
  rule_ = Condition::parse(rule, "stop_when");
  rule_text_ = rule;
  on_stop_ = std::move(on_stop);
}

void MetricsRecorder::check_stop_rule(int64_t step) {
  if (stopped_) return;
  std::vector<std::string> used;  // the values the rule looked at, for the reason
  const bool holds = rule_->holds([&](const std::string& name) -> std::optional<json> {
    if (name == "epoch" || name == "step") return json(step);
    auto it = latest_.find(name);
    if (it == latest_.end()) return std::nullopt;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", it->second);
    used.push_back(name + " = " + buf);
    return json(it->second);
  });
  if (!holds) return;
  stopped_ = true;
  std::string reason = "stopped by rule `" + rule_text_ + "` at step " + std::to_string(step);
  for (size_t k = 0; k < used.size(); ++k) reason += (k ? ", " : ": ") + used[k];
  on_stop_(reason);
}

std::vector<std::string> MetricsRecorder::unreported_rule_metrics() const {
  std::vector<std::string> out;
  if (!rule_) return out;
  for (const auto& name : rule_->names())
    if (name != "epoch" && name != "step" && !latest_.count(name)) out.push_back(name);
  return out;
}

void MetricsRecorder::text(std::string_view tag, std::string_view text, int64_t step) {
  append(json{{"t", wall_clock_s()}, {"type", "text"}, {"tag", tag}, {"step", step}, {"text", text}}
             .dump());
  forward([&](sdk::MetricSink& s) { s.text(tag, text, step); });
}

void MetricsRecorder::audio(std::string_view tag, const float* samples, size_t frames,
                            int channels, int sample_rate, int64_t step) {
  std::filesystem::create_directories(run_dir_ + "/audio");
  const std::string file =
      "audio/" + safe_file_part(tag) + "-step" + std::to_string(step) + ".wav";
  write_float_wav(run_dir_ + "/" + file, samples, frames, channels, sample_rate);
  append(json{{"t", wall_clock_s()},
              {"type", "audio"},
              {"tag", tag},
              {"step", step},
              {"frames", frames},
              {"channels", channels},
              {"sample_rate", sample_rate},
              {"file", file}}
             .dump());
  forward([&](sdk::MetricSink& s) { s.audio(tag, samples, frames, channels, sample_rate, step); });
}

void MetricsRecorder::close_sinks(sdk::Outcome outcome) {
  forward([&](sdk::MetricSink& s) { s.close(outcome); });
  sinks_.clear();
}

}  // namespace cadenza
