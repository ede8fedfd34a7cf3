// Metrics from the lines a script prints, by a regular expression with
// named groups (Guild AI's approach), for scripts that only print:
//   metrics_from_output = 'epoch (?P<step>\d+): loss=(?P<loss>\S+)'
// Each line that matches reports every named group but "step" as a scalar
// of that name, at the step the "step" group gives (or the last one).
// Perl/Python syntax by PCRE2, so a pattern a user tried in Python works.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metric_lines.h"

namespace cadenza::script {

class OutputPattern {
 public:
  // Throws std::invalid_argument naming the error and where it is, or that
  // the pattern names no metric.
  explicit OutputPattern(const std::string& pattern);
  ~OutputPattern();
  OutputPattern(const OutputPattern&) = delete;
  OutputPattern& operator=(const OutputPattern&) = delete;

  // What `line` reports, if it matches. A group whose text is not a number
  // is left out and named in `bad` (if given).
  std::optional<MetricUpdate> match(std::string_view line, std::vector<std::string>* bad = nullptr) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

// Splits a byte stream (the script's output) into lines for an
// OutputPattern; a line longer than MetricsFileFollower::kMaxLineBytes is
// matched on its first that many bytes.
class OutputLines {
 public:
  OutputLines(const OutputPattern& pattern, Warn warn) : pattern_(pattern), warn_(std::move(warn)) {}
  void feed(std::string_view bytes, const OnUpdate& on_update);
  void finish(const OnUpdate& on_update);  // the unterminated last line

 private:
  void take(const OnUpdate& on_update);
  const OutputPattern& pattern_;
  Warn warn_;
  std::string line_;
  bool overlong_ = false;
  std::vector<std::string> warned_;
};

}  // namespace cadenza::script
