#include "metric_lines.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace cadenza::script {

using nlohmann::json;

namespace {

// Python's json.dumps writes NaN, Infinity and -Infinity, which JSON (and
// nlohmann) does not know: outside strings they become the strings
// "NaN", "Infinity" and "-Infinity", read back as numbers below.
std::string quote_non_finite(std::string_view line) {
  std::string out;
  out.reserve(line.size() + 8);
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < line.size()) out += line[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    bool replaced = false;
    for (std::string_view token : {"NaN", "Infinity", "-Infinity"}) {
      if (line.substr(i, token.size()) != token) continue;
      out += '"';
      out += token;
      out += '"';
      i += token.size() - 1;
      replaced = true;
      break;
    }
    if (replaced) continue;
    if (c == '"') in_string = true;
    out += c;
  }
  return out;
}

std::optional<double> non_finite(const std::string& s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "Infinity") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

std::optional<double> number_of(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return non_finite(v.get<std::string>());
  return std::nullopt;
}

// "step": a whole number >= 0.
std::string read_step(const json& v, MetricUpdate& u) {
  const auto n = number_of(v);
  if (!n || !std::isfinite(*n) || *n < 0 || *n != std::floor(*n) || *n > 9e15)
    return "\"step\" must be a whole number >= 0, not " + v.dump();
  u.step = static_cast<int64_t>(*n);
  return "";
}

// "progress": [done, total] or [done, total, "unit"].
std::string read_progress(const json& v, MetricUpdate& u) {
  const char* form = "\"progress\" must be [done, total] or [done, total, \"unit\"], not ";
  if (!v.is_array() || v.size() < 2 || v.size() > 3) return form + v.dump();
  const auto done = number_of(v[0]), total = number_of(v[1]);
  if (!done || !total || !std::isfinite(*done) || !std::isfinite(*total) ||
      (v.size() == 3 && !v[2].is_string()))
    return form + v.dump();
  u.progress = MetricUpdate::Progress{*done, *total, v.size() == 3 ? v[2].get<std::string>() : "steps"};
  return "";
}

// "audio": {"tag": "path.wav", ...}.
std::string read_audio(const json& v, MetricUpdate& u) {
  if (!v.is_object()) return "\"audio\" must map tags to WAV paths, not " + v.dump();
  for (const auto& [tag, path] : v.items()) {
    if (!path.is_string() || path.get<std::string>().empty())
      return "\"audio\" must map tags to WAV paths; \"" + tag + "\" maps to " + path.dump();
    u.audio.emplace_back(tag, path.get<std::string>());
  }
  return "";
}

}  // namespace

ParsedLine parse_metric_line(std::string_view line) {
  ParsedLine out;
  json j;
  try {
    j = json::parse(quote_non_finite(line));
  } catch (const json::exception&) {
    out.error = "not JSON";
    return out;
  }
  if (!j.is_object()) {
    out.error = "not a JSON object";
    return out;
  }
  MetricUpdate u;
  for (const auto& [key, value] : j.items()) {
    std::string error;
    if (key == "step") error = read_step(value, u);
    else if (key == "progress") error = read_progress(value, u);
    else if (key == "audio") error = read_audio(value, u);
    else if (key.empty()) error = "a metric needs a name; this line has an empty key";
    else if (value.is_boolean()) u.scalars.emplace_back(key, value.get<bool>() ? 1.0 : 0.0);
    else if (auto n = number_of(value)) u.scalars.emplace_back(key, *n);
    else if (value.is_string()) u.texts.emplace_back(key, value.get<std::string>());
    else if (!value.is_null()) out.ignored.push_back(key);
    if (!error.empty()) {
      out.error = error;
      return out;
    }
  }
  out.update = std::move(u);
  return out;
}

MetricsFileFollower::MetricsFileFollower(std::string path, Warn warn)
    : path_(std::move(path)), warn_(std::move(warn)) {}

void MetricsFileFollower::warn(const std::string& message) {
  if (warnings_ > kMaxWarnings) return;
  if (++warnings_ > kMaxWarnings) {
    warn_(path_ + ": more problems in this file are not shown");
    return;
  }
  warn_(message);
}

void MetricsFileFollower::take_line(std::string_view line, const OnUpdate& on_update) {
  ++line_number_;
  if (line.empty()) return;
  ParsedLine parsed = parse_metric_line(line);
  const std::string where = path_ + ":" + std::to_string(line_number_);
  if (!parsed.update) {
    warn(where + ": skipped, " + parsed.error);
    return;
  }
  for (const auto& key : parsed.ignored)
    if (ignored_keys_.insert(key).second)
      warn(where + ": \"" + key + "\" is ignored (here and below): a metric's value must be a "
           "number or a string");
  on_update(std::move(*parsed.update));
}

void MetricsFileFollower::poll(const OnUpdate& on_update, bool final) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset_))) > 0) {
      offset_ += static_cast<uint64_t>(n);
      std::string_view chunk(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = chunk.find('\n')) != std::string_view::npos; chunk.remove_prefix(nl + 1)) {
        if (skipping_) {
          skipping_ = false;
          ++line_number_;
          continue;
        }
        partial_.append(chunk.substr(0, nl));
        take_line(partial_, on_update);
        partial_.clear();
      }
      if (!skipping_ && partial_.size() + chunk.size() > kMaxLineBytes) {
        skipping_ = true;
        partial_.clear();
        warn(path_ + ":" + std::to_string(line_number_ + 1) + ": skipped, longer than " +
             std::to_string(kMaxLineBytes) + " bytes");
      }
      if (!skipping_) partial_.append(chunk);
    }
    ::close(fd);
  }
  if (!final || partial_.empty()) return;
  // The writer exited: an unterminated last line is complete or torn.
  const std::string last = std::move(partial_);
  partial_.clear();
  if (parse_metric_line(last).update) {
    take_line(last, on_update);
  } else {
    ++line_number_;
    warn(path_ + ":" + std::to_string(line_number_) + ": skipped, the last line is torn (the "
         "script ended in the middle of writing it)");
  }
}

}  // namespace cadenza::script
