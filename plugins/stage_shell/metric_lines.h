// The metrics lines a script appends to $CADENZA_METRICS (format: sdk/README.md,
// "Metrics from a script"), read while the script runs.
//
// One JSON object per line: numbers (and booleans, as 0/1) are scalars,
// strings are text, under their key as tag; "step", "progress" and "audio"
// are reserved. NaN, Infinity and -Infinity, which Python's json module
// writes by default, are accepted as numbers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cadenza::script {

// What one line (or one row of another channel) reports.
struct MetricUpdate {
  std::optional<int64_t> step;  // none: the channel's last step
  std::vector<std::pair<std::string, double>> scalars;
  std::vector<std::pair<std::string, std::string>> texts;
  std::vector<std::pair<std::string, std::string>> audio;  // tag, WAV path as written
  std::vector<std::pair<std::string, std::string>> encoded_audio;  // tag, a WAV file's bytes
  struct Progress {
    double done = 0, total = 0;
    std::string unit;
  };
  std::optional<Progress> progress;
};

struct ParsedLine {
  std::optional<MetricUpdate> update;  // none: the line is not a metrics line
  std::string error;                   // why not
  std::vector<std::string> ignored;    // keys whose values are neither number nor string
};

// Parses one line (without its newline).
ParsedLine parse_metric_line(std::string_view line);

using Warn = std::function<void(const std::string&)>;
using OnUpdate = std::function<void(MetricUpdate&&)>;

// Follows a file that another process appends lines to. Lines longer than
// kMaxLineBytes are skipped unread (one warning each), so a runaway writer
// cannot exhaust memory. Bad lines are skipped with a warning naming their
// line number; after kMaxWarnings, one last warning says more are not shown.
class MetricsFileFollower {
 public:
  static constexpr size_t kMaxLineBytes = 1 << 20;
  static constexpr int kMaxWarnings = 10;

  MetricsFileFollower(std::string path, Warn warn);

  // Reads what was appended since the last call; complete lines only. With
  // `final` (the writer has exited), an unterminated last line counts too if
  // it parses, and is otherwise reported as torn.
  void poll(const OnUpdate& on_update, bool final = false);

 private:
  void take_line(std::string_view line, const OnUpdate& on_update);
  void warn(const std::string& message);

  std::string path_;
  Warn warn_;
  uint64_t offset_ = 0;
  std::string partial_;
  bool skipping_ = false;  // inside an over-long line
  int64_t line_number_ = 0;
  int warnings_ = 0;
  std::set<std::string> ignored_keys_;
};

}  // namespace cadenza::script
