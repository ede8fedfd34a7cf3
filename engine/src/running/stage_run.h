// What a run knows about each of its stages while it drives them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"
#include "retry_policy.h"
#include "workspace_cache.h"

namespace cadenza {

enum class Phase {
  kNotSelected,  // not part of this run
  kPending,      // waits for its upstream stages
  kHeld,         // waits for an earlier run's job of the same stage to end
  kSubmitted,    // handed to its backend, not started
  kRunning,
  kDone,         // `outcome` says how
};

struct StageRun {
  Phase phase = Phase::kNotSelected;
  sdk::Outcome outcome = sdk::Outcome::kNotRun;
  std::string reused;  // "up_to_date" / "restored" for successes that did not run
  int attempt = 0;     // of the current or last job
  AttemptBudget budget;
  sdk::Resources resources;  // for the next attempt (escalated by retries)
  std::vector<std::string> exclude_nodes;
  std::string backend;
  sdk::JobHandle handle;  // of the current job (or the earlier run's, while kHeld)
  std::string dir;        // the current attempt's directory
  double started = 0;     // steady-clock seconds when it started running; 0: never
  bool user_cancel = false;    // a user asked to stop it
  bool cancel_sent = false;
  bool resubmit_after_cancel = false;  // held on an upstream job that is being retried
  std::string not_run_reason;
  std::optional<StageFingerprint> fingerprint;
  size_t echoed_bytes = 0;  // of the current attempt's output, shown on the terminal

  bool active() const {
    return phase == Phase::kHeld || phase == Phase::kSubmitted || phase == Phase::kRunning;
  }
  bool succeeded() const { return phase == Phase::kDone && outcome == sdk::Outcome::kSucceeded; }
};

// "1 ran, 2 up to date, 1 timed out, 1 not run" and the exit code it implies
// (0 all succeeded, 1 anything else, 130 interrupted).
struct RunSummary {
  std::string line;
  int exit_code = 0;
};
RunSummary summarize(const std::vector<StageRun>& stages, bool interrupted);

}  // namespace cadenza
