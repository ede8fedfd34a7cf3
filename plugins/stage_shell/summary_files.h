// Metrics files a script writes whole, as DVC's `metrics:` are: JSON or
// YAML objects whose numbers are the metrics ({"test": {"esr": 0.02}} is
// test/esr), read whenever the file changes and when the script ends. A
// "step" key gives their step. A file already there when the stage starts
// counts only once it is written again.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "metric_lines.h"

namespace cadenza::script {

class SummaryFilesFollower {
 public:
  SummaryFilesFollower(std::vector<std::string> paths, Warn warn);
  void poll(const OnUpdate& on_update);

 private:
  std::vector<std::string> paths_;
  Warn warn_;
  std::map<std::string, std::string> seen_;  // path -> identity last read (or found at the start)
};

}  // namespace cadenza::script
