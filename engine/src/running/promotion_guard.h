// Keeps an orphaned stage from overwriting a newer run's outputs.
//
// A stage whose run's driver died (kill -9, a crash) goes on running. The
// next run of the workspace waits for the jobs it finds in the dead run's
// record and marks that run superseded; the stages it found nothing for it
// runs itself. A job it did not know about (its driver died between starting
// it and recording it) must then not put its outputs in place over the newer
// run's: the lock would name one output and the file hold another.
//
// Both sides hold <runs dir>/promote.lock for the few system calls that
// matter: exec-stage while it checks and renames its outputs into place, a
// new run while it marks the dead run superseded. So a job either promoted
// before the new run looked (which then judges the outputs afresh), or it
// sees the new run and whether that run waits for it.
#pragma once

#include <string>

namespace cadenza {

class PromotionGuard {
 public:
  // Blocks until <runs_dir>/promote.lock is held. Throws Error.
  explicit PromotionGuard(const std::string& runs_dir);
  ~PromotionGuard();
  PromotionGuard(const PromotionGuard&) = delete;
  PromotionGuard& operator=(const PromotionGuard&) = delete;

  // Empty if attempt `attempt` of `stage` in run `run_id` may put its
  // outputs in place: its run was not superseded, or every run that
  // superseded it waits for this job. Otherwise, why not.
  std::string refusal(const std::string& run_id, const std::string& stage, int attempt) const;

 private:
  std::string runs_dir_;
  int fd_ = -1;
};

// The runs directory (.cadenza/runs) that holds an attempt's directory
// <runs>/<run id>/<stage>[/attempt-N]; empty if `attempt_dir` is not one.
std::string runs_dir_of(const std::string& attempt_dir, const std::string& run_id);

}  // namespace cadenza
