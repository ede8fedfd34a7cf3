// `cadenza run`: schedules a prepared workflow's stages onto backends.
//
// When a stage's upstream stages are done, the workspace cache decides: up
// to date (nothing to do), restore from the run-cache, or run. The lock file
// is updated atomically after every stage that completes.
//
// The orchestrator never runs stage code itself. For each stage whose
// upstream stages succeeded it writes a job spec under
// .cadenza/runs/<run id>/<stage>/ and submits `cadenza exec-stage <spec>` to
// the stage's backend plugin. It reacts to the backends' updates, prints each
// stage's output with a "[stage]" prefix, and on Ctrl-C (SIGINT/SIGTERM)
// cancels every running job, waits for them, and exits 130.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "prepared_workflow.h"

namespace cadenza {

struct RunOptions {
  std::string workflow_path = "workflow.toml";
  std::vector<std::string> stages;  // --stage: run these and what they need
  int jobs = 0;                     // -j; 0: the backend's own default
  bool keep_going = false;          // -k: keep running independent stages after a failure
  bool force = false;               // -f: run even stages that are up to date or cached
  bool explain = false;             // --explain: say why each stage runs or not
};

class Orchestrator {
 public:
  Orchestrator(const PreparedWorkflow& workflow, RunOptions options, std::ostream& out);
  ~Orchestrator();

  // Runs the selected stages. Returns the process exit code: 0 when every
  // stage succeeded, 1 when one failed, 130 when cancelled.
  int run();

  const std::string& run_id() const { return run_id_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string run_id_;
};

// Installs SIGINT/SIGTERM handlers that set a flag instead of killing the
// process; the orchestrator polls it. Returns the number of signals seen.
void install_interrupt_handlers();
int interrupt_count();

}  // namespace cadenza
