// Whether and how a stage runs again after an attempt ended, by cause.
//
//   failed           retried while retries last, as it was
//   timed out        retried with time x retry_time_factor; the stage resumes
//                    from its scratch-dir checkpoint (same key, same dir)
//   out of memory    retried with mem x retry_mem_factor
//   node failure     retried with the node excluded, where the backend can
//   preempted        resubmitted without using up a retry (up to
//                    kMaxPreemptions, so a queue that preempts forever ends)
//   cancelled        never: the user asked for it to stop
//   not run          never: it did not start, so nothing was tried
// A pure function of its arguments: the orchestrator keeps the budget.
#pragma once

#include <string>

#include "cadenza/sdk/backend.h"
#include "workflow.h"

namespace cadenza {

constexpr int kMaxPreemptions = 20;

// What one stage's attempts have used so far.
struct AttemptBudget {
  int retries_used = 0;
  int preemptions = 0;
};

struct RetryDecision {
  bool retry = false;
  bool uses_a_retry = false;   // false for a preemption
  sdk::Resources resources;    // for the next attempt
  std::string exclude_node;    // add to the next attempt's exclude_nodes
  std::string note;            // for the terminal: "retry 1 of 2 with time 120 s"
};

RetryDecision decide_retry(sdk::Outcome outcome, const std::string& node,
                           const sdk::Resources& current, const RetryDecl& policy,
                           const AttemptBudget& budget);

}  // namespace cadenza
