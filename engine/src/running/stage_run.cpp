#include "stage_run.h"

#include <map>

namespace cadenza {

RunSummary summarize(const std::vector<StageRun>& stages, bool interrupted) {
  int ran = 0, up_to_date = 0, restored = 0;
  std::map<sdk::Outcome, int> ended;  // every outcome but success
  for (const auto& s : stages) {
    if (s.phase == Phase::kNotSelected) continue;
    if (s.succeeded()) {
      (s.reused == "up_to_date" ? up_to_date : s.reused == "restored" ? restored : ran) += 1;
      continue;
    }
    ended[s.phase == Phase::kDone ? s.outcome : sdk::Outcome::kNotRun] += 1;
  }
  std::string line = "cadenza: " + std::to_string(ran) + " ran";
  if (up_to_date) line += ", " + std::to_string(up_to_date) + " up to date";
  if (restored) line += ", " + std::to_string(restored) + " restored from cache";
  for (sdk::Outcome o : sdk::kAllOutcomes)
    if (ended.count(o)) line += ", " + std::to_string(ended[o]) + " " + std::string(sdk::outcome_text(o));
  RunSummary summary{line, ended.empty() ? 0 : 1};
  if (interrupted) summary.exit_code = 130;
  return summary;
}

}  // namespace cadenza
