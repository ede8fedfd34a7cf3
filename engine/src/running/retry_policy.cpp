#include "retry_policy.h"

#include <cmath>
#include <limits>

namespace cadenza {

namespace {

template <typename T>
T scaled(T value, double factor) {
  const double next = std::ceil(static_cast<double>(value) * factor);
  const double cap = static_cast<double>(std::numeric_limits<T>::max() / 2);
  return static_cast<T>(std::min(next, cap));
}

}  // namespace

RetryDecision decide_retry(sdk::Outcome outcome, const std::string& node,
                           const sdk::Resources& current, const RetryDecl& policy,
                           const AttemptBudget& budget) {
  RetryDecision d;
  d.resources = current;
  switch (outcome) {
    case sdk::Outcome::kSucceeded:
    case sdk::Outcome::kCancelled:
    case sdk::Outcome::kNotRun:
      return d;
    case sdk::Outcome::kPreempted:
      if (budget.preemptions >= kMaxPreemptions) {
        d.note = "preempted " + std::to_string(budget.preemptions) + " times; giving up";
        return d;
      }
      d.retry = true;
      d.note = "preempted; resubmitted (does not use a retry)";
      return d;
    default:
      break;
  }
  if (budget.retries_used >= policy.retries) return d;
  d.retry = d.uses_a_retry = true;
  d.note = "retry " + std::to_string(budget.retries_used + 1) + " of " +
           std::to_string(policy.retries);
  if (outcome == sdk::Outcome::kTimedOut && current.time_limit_s > 0) {
    d.resources.time_limit_s = scaled(current.time_limit_s, policy.time_factor);
    d.note += " with time " + std::to_string(d.resources.time_limit_s) + " s";
  }
  if (outcome == sdk::Outcome::kOutOfMemory && current.mem_bytes > 0) {
    d.resources.mem_bytes = scaled(current.mem_bytes, policy.mem_factor);
    d.note += " with mem " + std::to_string(d.resources.mem_bytes >> 20) + " MiB";
  }
  if (outcome == sdk::Outcome::kNodeFailure && !node.empty()) {
    d.exclude_node = node;
    d.note += " avoiding node " + node;
  }
  return d;
}

}  // namespace cadenza
