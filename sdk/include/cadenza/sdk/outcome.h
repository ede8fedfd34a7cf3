// Cadenza SDK — how a stage run ended: one vocabulary from the backend to the lock.
//
// The same enum, with the same spelling, is what a backend reports in
// JobUpdate, what exec-stage writes into result.json, what the run record
// (.cadenza/runs/<id>/events.jsonl), `cadenza status --json` and a metric
// sink's close() see. The cause matters because retries depend on it: a time
// limit is retried with more time, out of memory with more memory, a node
// failure elsewhere, a preemption without using up a retry, and a user's
// cancel never.
//
// Header-only and inline: the names are part of the on-disk formats, so the
// engine and every plugin must spell them identically.
#pragma once

#include <optional>
#include <string_view>

namespace cadenza::sdk {

enum class Outcome {
  kSucceeded,    // the stage ran (or was restored from the cache) and its outs are in place
  kFailed,       // it ran and failed: exit code, signal or the plugin's error
  kTimedOut,     // stopped at its time limit (resources.time)
  kOutOfMemory,  // stopped for exceeding its memory (resources.mem)
  kPreempted,    // stopped by the scheduler to make room, or by a SIGTERM from outside Cadenza
  kNodeFailure,  // the machine it ran on failed
  kCancelled,    // stopped because a user asked (Ctrl-C, `cadenza cancel`)
  kNotRun,       // never started: an upstream stage did not succeed, or its dependency
                 // could never be satisfied
};

inline constexpr Outcome kAllOutcomes[] = {
    Outcome::kSucceeded, Outcome::kFailed,      Outcome::kTimedOut, Outcome::kOutOfMemory,
    Outcome::kPreempted, Outcome::kNodeFailure, Outcome::kCancelled, Outcome::kNotRun};

// The spelling used in every file and in `status --json`.
inline constexpr std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kFailed: return "failed";
    case Outcome::kTimedOut: return "timed_out";
    case Outcome::kOutOfMemory: return "out_of_memory";
    case Outcome::kPreempted: return "preempted";
    case Outcome::kNodeFailure: return "node_failure";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kNotRun: return "not_run";
  }
  return "failed";
}

// For people: "timed out", "out of memory", "not run".
inline constexpr std::string_view outcome_text(Outcome o) {
  switch (o) {
    case Outcome::kTimedOut: return "timed out";
    case Outcome::kOutOfMemory: return "out of memory";
    case Outcome::kNodeFailure: return "node failure";
    case Outcome::kNotRun: return "not run";
    default: return outcome_name(o);
  }
}

inline std::optional<Outcome> parse_outcome(std::string_view name) {
  for (Outcome o : kAllOutcomes)
    if (outcome_name(o) == name) return o;
  return std::nullopt;
}

// Causes that stop a stage from outside it: the stage itself did nothing
// wrong, and a retry may succeed (with more time, more memory, another node).
inline constexpr bool outcome_is_external_stop(Outcome o) {
  return o == Outcome::kTimedOut || o == Outcome::kOutOfMemory || o == Outcome::kPreempted ||
         o == Outcome::kNodeFailure;
}

}  // namespace cadenza::sdk
