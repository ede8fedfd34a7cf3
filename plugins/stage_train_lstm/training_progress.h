// Where a training stands after an epoch, saved next to its checkpoint so
// that a killed or timed-out run resumes after the last finished epoch.
// JSON (nlohmann, which the plugin links anyway): a best score that is not
// finite yet (inf before any finite validation ESR) is written as null and
// read back as inf. The text format before it wrote "inf", which `>>` could
// not read back, so such a run silently restarted from epoch 0.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace cadenza::train {

struct TrainingProgress {
  int64_t epoch = 0;  // next epoch to run
  double best_val = std::numeric_limits<double>::infinity();
  int64_t best_epoch = -1;
  int64_t since_best = 0;
  double lr = 0;
  double seconds = 0;  // training time so far, across resumes
  std::string fingerprint;  // of the config: a changed config starts over
};

// Atomically (temp file, checked write, rename). Throws std::runtime_error.
void save_progress(const std::string& path, const TrainingProgress& p);
// False when there is no file or it is not a progress file.
bool load_progress(const std::string& path, TrainingProgress* p);

}  // namespace cadenza::train
