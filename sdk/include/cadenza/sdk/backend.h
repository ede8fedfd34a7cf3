// Cadenza SDK — execution backend plugins (backend API v2, SDK ABI 3).
//
// The orchestrator (`cadenza run`) decides *what* runs and when its inputs
// are ready; a backend decides *where* and *how*. For every stage the
// orchestrator hands the backend a JobRequest whose command is
// `cadenza exec-stage <spec.json>`; backend_local runs it as a child process,
// backend_slurm wraps it in sbatch. The backend never loads stage plugins.
//
// Runs outlive processes. A job's handle is a string that names the job for
// as long as the backend's world remembers it (a SLURM job id; backend_local
// uses "<host>:<pid>:<start ticks>"). The engine writes handles into the run
// record, and a later process — a second `cadenza run` after the first was
// killed, `cadenza cancel` from another shell, tomorrow — gives them back
// through attach() and then waits for or cancels those jobs like its own.
//
// Threading: every method is called from one thread of the calling process.
// wait() is where a backend does its work (reaping children, polling a
// scheduler); it must return within about `timeout_ms` so the orchestrator
// can react to Ctrl-C.
//
// Errors: throw PluginError with a message for the user. The engine wraps
// every call: a throw from submit() fails that stage, a throw from wait()
// fails every job the backend holds, a throw from cancel() or attach() is
// reported; none of them take the engine down.
//
// Held dependents (backends whose handles_dependencies() is true): when a job
// ends in anything but kSucceeded, the jobs held on it (through `after`) can
// never start. The orchestrator calls cancel() on each of them, dependents of
// dependents too, and the backend must then report each through wait() as
// kFinished with Outcome::kNotRun — a backend must never keep a held job
// waiting forever, and never start it. A backend may report such jobs as
// kNotRun on its own first (SLURM's --kill-on-invalid-dep); cancel() of a
// job that has already finished is a no-op.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/outcome.h"
#include "cadenza/sdk/visibility.h"

namespace cadenza::sdk {

// See above: durable, printable, chosen by the backend, never empty.
using JobHandle = std::string;

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
  std::string log_path;            // the job's stdout+stderr must be written here, by the
                                   // job itself (not piped through this process), so the
                                   // log survives the process that submitted it
  std::string run_dir;             // the attempt's directory (job spec, result.json), for
                                   // backends that keep files of their own next to it
  std::string run_id;              // the run this job belongs to, for job names and tags
  int attempt = 1;                 // 1 for the first try, 2 for the first retry, ...
  Resources resources;             // already escalated for retries (more time, more mem)
  // Hosts where earlier attempts died of a node failure: run elsewhere if you can.
  std::vector<std::string> exclude_nodes;
  // Jobs this one must wait for (only given to backends whose
  // handles_dependencies() is true; others get jobs once deps finished).
  std::vector<JobHandle> after;
  // Jobs this one must wait for to end, however they end (SLURM's afterany):
  // the last job of a run handed to the scheduler, which records the run's
  // end. Backends whose handles_dependencies() is true must honour it.
  std::vector<JobHandle> after_any;
  std::string backend_config_json; // the stage's own backend table, "{}" if none
};

enum class JobState {
  kQueued,   // accepted, not started (held on `after`, or waiting for resources)
  kRunning,  // started; `node` says where, if known
  kFinished, // over; `outcome` says how
};

struct JobUpdate {
  JobHandle handle;
  JobState state = JobState::kQueued;
  // For kFinished: how it ended, as far as the backend knows. The engine
  // combines this with the result file exec-stage wrote: the backend knows
  // causes the job cannot see (its time limit, out of memory, node failure),
  // the job knows what the plugin said. Report kFailed when you only know
  // that the process ended badly, and kSucceeded when it exited with 0.
  Outcome outcome = Outcome::kSucceeded;
  int exit_code = -1;   // the process's exit code if it exited and is known, else -1
  int signal = 0;       // the signal that ended it, if any
  std::string node;     // where it ran, if known (used for exclude_nodes on retry)
  std::string message;  // the backend's explanation ("TIMEOUT on node2")
};

// Given by the orchestrator: where a backend reports output as it arrives.
class CADENZA_API_VISIBLE BackendHost {
 public:
  virtual ~BackendHost() = default;
  // One line (without its newline) of a job's output, for the terminal.
  virtual void job_output(const JobHandle& handle, std::string_view line) = 0;
};

class CADENZA_API_VISIBLE Backend {
 public:
  virtual ~Backend() = default;

  // Called once before anything else. `config_json` is the workflow's
  // [backends.<name>] table plus engine settings (e.g. "max_jobs" from -j).
  // `host` outlives the backend. Throw PluginError on invalid config.
  virtual void configure(const std::string& config_json, BackendHost& host) = 0;

  // True if the backend can hold a job until the jobs in `after` succeed
  // (SLURM's --dependency=afterok). Then the orchestrator submits the whole
  // DAG up front; otherwise it submits each job once its deps succeeded.
  virtual bool handles_dependencies() const = 0;

  // Queue a job; returns at once with its handle. Throw PluginError if it
  // cannot be queued.
  virtual JobHandle submit(const JobRequest& request) = 0;

  // Queue many like jobs at once (a sweep's variants of one stage; SLURM
  // makes them one job array). Returns one handle per request, in order.
  // The default submits them one by one.
  virtual std::vector<JobHandle> submit_array(const std::vector<JobRequest>& requests) {
    std::vector<JobHandle> handles;
    handles.reserve(requests.size());
    for (const auto& r : requests) handles.push_back(submit(r));
    return handles;
  }

  // Take over jobs that an earlier process submitted (their handles from the
  // run record). Afterwards wait() reports them and cancel() stops them like
  // jobs of this process. A job that is already gone is reported by the next
  // wait() as kFinished (with kFailed and exit_code -1 when the backend
  // cannot tell how it ended: the engine then reads its result file).
  // Throw PluginError for a handle that is not of this backend's form.
  virtual void attach(const std::vector<JobHandle>& handles) = 0;

  // Block for at most `timeout_ms`; return the jobs whose state changed
  // (started, finished) since the last call.
  virtual std::vector<JobUpdate> wait(int timeout_ms) = 0;

  // Ask a job to stop (SIGTERM, then SIGKILL after a grace period; scancel).
  // Its final state is reported through wait(): kNotRun if it never started.
  virtual void cancel(const JobHandle& handle) = 0;
};

}  // namespace cadenza::sdk
