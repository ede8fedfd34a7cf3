#include "finish_run.h"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "error.h"
#include "experiment_sinks.h"
#include "fs_util.h"
#include "outcome_resolver.h"
#include "prepared_workflow.h"
#include "run_lock.h"
#include "run_record.h"
#include "wall_clock.h"
#include "workspace_cache.h"

namespace cadenza {

using nlohmann::json;

namespace {

size_t stage_index(const PreparedWorkflow& pw, const std::string& name) {
  for (size_t i = 0; i < pw.size(); ++i)
    if (pw.stage(i).decl->name == name) return i;
  throw Error("stage '" + name + "' of the run is no longer in " + pw.workflow().file);
}

// How a job that ended without anyone watching it went.
AttemptOutcome ended_as(const AttemptStatus& attempt, const std::optional<JobResult>& result) {
  if (result) return {result->outcome, result->error};
  std::error_code ec;
  if (fs::exists(attempt.dir + "/exec.json", ec))
    return {sdk::Outcome::kFailed, "it ended without a result file (killed?); see " + attempt.dir + "/log.txt"};
  return {sdk::Outcome::kNotRun, "it never started (an upstream stage did not succeed)"};
}

}  // namespace

int cmd_finish_run(const Args& args) {
  if (args.size() != 1) throw Error("usage: cadenza finish-run <run dir> (the last job of a handed-off run)");
  const fs::path dir = fs::absolute(args[0]).lexically_normal();
  auto run = read_run(dir.parent_path().string(), dir.filename().string());
  if (!run) throw Error(dir.string() + ": no run record here");
  if (run->finished) return 0;
  auto pw = PreparedWorkflow::load(run->info.workflow);
  RunLock lock = RunLock::acquire(pw->workflow().state_dir(), run->run_id());
  WorkspaceCache cache(pw->workflow());
  int exit_code = 0;
  std::vector<sdk::Outcome> outcomes;
  std::vector<StageMetrics> metrics;
  const auto succeeded = [&](const std::string& name, bool restored, bool up_to_date) {
    const PreparedStage& stage = pw->stage(stage_index(*pw, name));
    const StageFingerprint fingerprint = cache.fingerprint(stage);
    StageMetrics m{name, restored, up_to_date};
    if (auto record = cache.cached_run(fingerprint.key)) m.metrics = record->metrics;
    metrics.push_back(std::move(m));
    return fingerprint;
  };
  for (const auto& name : run->info.stages) {
    const StageStatus& st = run->state.at(name);
    if (!st.active()) {
      exit_code |= st.state != "succeeded";
      outcomes.push_back(sdk::parse_outcome(st.state).value_or(sdk::Outcome::kFailed));
      if (st.state == "succeeded") succeeded(name, !st.reused.empty(), st.reused == "up_to_date");
      continue;
    }
    if (st.attempts.empty()) {
      outcomes.push_back(sdk::Outcome::kNotRun);
      continue;
    }
    const AttemptStatus& attempt = st.attempts.back();
    const auto result = read_job_result(attempt.dir);
    const AttemptOutcome ao = ended_as(attempt, result);
    json event{{"t", wall_clock_s()}, {"event", "finished"}, {"stage", name}, {"attempt", attempt.attempt},
               {"outcome", std::string(sdk::outcome_name(ao.outcome))}};
    if (!ao.message.empty()) event["error"] = ao.message;
    if (result && result->restored) event["reused"] = "restored";
    outcomes.push_back(ao.outcome);
    if (ao.outcome == sdk::Outcome::kSucceeded) {
      const PreparedStage& stage = pw->stage(stage_index(*pw, name));
      cache.record(stage, succeeded(name, result->restored, false), result->outs, result->restored);
    } else {
      exit_code = 1;
    }
    RunRecorder::append_to(run->run_dir, event.dump());
    std::cout << name << ": " << sdk::outcome_name(ao.outcome) << (ao.message.empty() ? "" : " (" + ao.message + ")") << "\n";
  }
  cache.save();
  ExperimentSinks(*pw, run->run_id(), std::cerr).end(run_outcome(outcomes), metrics);
  RunRecorder::append_to(run->run_dir, json{{"t", wall_clock_s()}, {"event", "run_finished"}, {"exit_code", exit_code}}.dump());
  return 0;  // the run's own exit code is in the record; this job itself succeeded
}

}  // namespace cadenza
