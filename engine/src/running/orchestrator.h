// `cadenza run`: schedules a prepared workflow's stages onto backends.
//
// When a stage's upstream stages are done, the workspace cache decides: up
// to date (nothing to do), restore from the run-cache, or run. The lock file
// is updated after every stage that completes.
//
// The orchestrator never runs stage code itself. For each attempt of a stage
// it writes a job spec (job_builder.h) and submits `cadenza exec-stage
// <spec>` to the stage's backend (backend_pool.h). Everything it learns goes
// into the run record on disk (run_record.h) as it happens, so other shells
// can watch and steer the run and a later run can take over its live jobs.
//
// How an attempt ended comes from outcome_resolver.h; whether it runs again
// from retry_policy.h. When a stage ends without success every stage that
// needs it is not run: pending ones at once, ones already held by a
// dependency-handling backend through cancel(). On Ctrl-C, SIGTERM or
// `cadenza cancel --all` it cancels every job, waits for them and exits 130.
//
// The caller holds the workspace's RunLock for the whole run.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "backend_pool.h"
#include "prepared_workflow.h"

namespace cadenza {

struct RunOptions {
  std::string workflow_path = "workflow.toml";
  std::vector<std::string> stages;  // --stage: run these and what they need
  int jobs = 0;                     // -j; 0: the backend's own default
  bool keep_going = false;          // -k: keep running independent stages after a failure
  bool force = false;               // -f: run even stages that are up to date or cached
  bool explain = false;             // --explain: say why each stage runs or not
  std::string run_id;               // empty: a new one
  bool detached = false;            // this process is the background driver of `run --detach`
  bool ask_on_interrupt = false;    // on a terminal: the first Ctrl-C asks "cancel or detach?"
  std::string label;                // prefixes every line ("[label] ..."): runs driven together
};

class SubmitBatch;

// Orchestrator::run()'s code when the user chose to detach at the Ctrl-C
// question: the caller starts a background driver that takes the run over.
constexpr int kRunDetachRequested = -2;

class Orchestrator {
 public:
  Orchestrator(const PreparedWorkflow& workflow, RunOptions options, std::ostream& out,
               BackendFactory backends = plugin_backend_factory());
  ~Orchestrator();

  // Runs the selected stages. Returns the process exit code: 0 when every
  // stage succeeded, 1 when any did not, 130 when interrupted.
  int run();

  const std::string& run_id() const;

  // ---- driven together with other runs (joint_run.h) ----
  // Shares `pool` (whose host is the driver) and queues jobs through `batch`,
  // which the driver flushes. Both must outlive this object.
  Orchestrator(const PreparedWorkflow& workflow, RunOptions options, std::ostream& out, BackendPool& pool,
               SubmitBatch& batch);
  void begin();                     // record the run; take over an earlier run's live jobs
  void react_to_requests();         // Ctrl-C, SIGTERM, `cadenza cancel`
  void plan_stage(size_t stage);    // start, reuse or hold-submit it if it can go now
  void on_update(const BackendUpdate& update);  // ignores jobs that are not this run's
  void job_output(const sdk::JobHandle& handle, std::string_view line);
  void heartbeat();
  size_t live_jobs() const;         // jobs this run waits for; 0: finish() may be called
  int finish();                     // record the end, save the lock; the exit code as run()'s

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "20261201-203000-1a2b": sortable, unique per process, call and second.
std::string make_run_id();

// Installs SIGINT/SIGTERM handlers that set a flag instead of killing the
// process; the orchestrator polls it. Returns the number of signals seen.
void install_interrupt_handlers();
int interrupt_count();

}  // namespace cadenza
