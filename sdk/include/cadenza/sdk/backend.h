// Cadenza SDK — execution backend plugins.
//
// The orchestrator (`cadenza run`) decides *what* runs and when its inputs
// are ready; a backend decides *where* and *how*. For every stage the
// orchestrator hands the backend a JobRequest whose command is
// `cadenza exec-stage <spec.json>`; backend_local runs it as a child process,
// backend_slurm wraps it in sbatch. The backend never loads stage plugins.
//
// Threading: every method is called from the orchestrator's one thread.
// wait() is where a backend does its work (reaping children, polling a
// scheduler); it must return within about `timeout_ms` so the orchestrator
// can react to Ctrl-C.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/visibility.h"

namespace cadenza::sdk {

using JobId = uint64_t;

struct Resources {
  int cpus = 1;
  int gpus = 0;
  uint64_t mem_bytes = 0;   // 0: not declared
  int64_t time_limit_s = 0; // 0: none
};

struct JobRequest {
  std::string name;                // the stage name, for logs and queue listings
  std::vector<std::string> argv;   // the command; argv[0] is an absolute path
  std::string workdir;             // absolute; the command runs here
  std::string log_path;            // where the job's stdout+stderr must go
  Resources resources;
  // Jobs this one must wait for (only given to backends whose
  // handles_dependencies() is true; others get jobs once deps finished).
  std::vector<JobId> after;
  std::string backend_config_json; // the stage's own backend table, "{}" if none
};

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

struct JobUpdate {
  JobId id = 0;
  JobState state = JobState::kQueued;
  int exit_code = 0;     // for kFailed: the process's exit code, if it exited
  int signal = 0;        // for kFailed/kCancelled: the signal that ended it, if any
  std::string message;   // backend's explanation (e.g. "OUT_OF_MEMORY on node3")
};

// Given by the orchestrator: where a backend reports output as it arrives.
class CADENZA_API_VISIBLE BackendHost {
 public:
  virtual ~BackendHost() = default;
  // One line (without its newline) of a job's output, for the terminal.
  virtual void job_output(JobId id, std::string_view line) = 0;
};

class CADENZA_API_VISIBLE Backend {
 public:
  virtual ~Backend() = default;

  // Called once before any submit. `config_json` is the workflow's
  // [backends.<name>] table plus engine settings (e.g. "max_jobs" from -j).
  // `host` outlives the backend. Throw PluginError on invalid config.
  virtual void configure(const std::string& config_json, BackendHost& host) = 0;

  // True if the backend can hold a job until the jobs in `after` succeed
  // (SLURM's --dependency=afterok). Then the orchestrator submits the whole
  // DAG up front; otherwise it submits each job once its deps succeeded.
  virtual bool handles_dependencies() const = 0;

  // Queue a job; returns at once. Throw PluginError if it cannot be queued.
  virtual JobId submit(const JobRequest& request) = 0;

  // Block for at most `timeout_ms`; return the jobs whose state changed
  // (started, finished) since the last call.
  virtual std::vector<JobUpdate> wait(int timeout_ms) = 0;

  // Ask a job to stop (SIGTERM, then SIGKILL after a grace period; scancel).
  // Its final state is reported through wait().
  virtual void cancel(JobId id) = 0;
};

}  // namespace cadenza::sdk
