// How an attempt ended, from the two witnesses that saw it.
//
// The backend knows causes the job cannot see (it enforced the time limit,
// the scheduler reports OUT_OF_MEMORY or NODE_FAIL, the job never started);
// exec-stage's result.json knows what the plugin said and whether the outs
// were promoted. The orchestrator also knows whether a user asked for the
// stop. Precedence, first match wins:
//   1. result.json says succeeded: the outs are in place, so it succeeded;
//   2. the user asked to cancel it: cancelled (never retried);
//   3. the backend names a cause (time limit, memory, preemption, node, not
//      run, cancelled by someone else, e.g. an admin's scancel): that cause,
//      whatever the job guessed from its SIGTERM;
//   4. result.json's outcome and error;
//   5. what the process's exit says (signal, exit code, backend message).
#pragma once

#include <optional>
#include <string>

#include "cadenza/sdk/backend.h"
#include "job_spec.h"

namespace cadenza {

struct AttemptOutcome {
  sdk::Outcome outcome = sdk::Outcome::kFailed;
  std::string message;  // for anything but success: for the user
};

AttemptOutcome resolve_outcome(const sdk::JobUpdate& update, const std::optional<JobResult>& result,
                               bool user_cancelled);

// result.json of an attempt, if it exists and is readable.
std::optional<JobResult> read_job_result(const std::string& run_dir);

}  // namespace cadenza
