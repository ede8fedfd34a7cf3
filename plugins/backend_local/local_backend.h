// backend_local: runs jobs as child processes on this machine.
//
// Config ([backends.local] in workflow.toml; -j sets max_jobs):
//   max_jobs     = N      jobs at once (default: number of cores)
//   cpus         = N      cores to hand out to jobs' resources.cpus (default: cores)
//   gpus         = N      GPUs to hand out (default: count of /dev/nvidiaN)
//   mem          = "16G"  memory to hand out to resources.mem (default: physical)
//   kill_grace_s = 10     seconds between SIGTERM and SIGKILL on cancel
//   echo         = true   copy each job's output to the terminal
//
// A job starts when a job slot, its cpus, gpus and mem are free; jobs start
// in submission order, except that a job that does not fit lets later jobs
// that do fit go first. Each child gets its own process group, so Ctrl-C in
// the terminal reaches only the orchestrator, which then cancels jobs here:
// SIGTERM to the group, SIGKILL after kill_grace_s.
//
// Jobs outlive this process: a job writes its output straight into its log
// file (the backend tails the file for the terminal), so it keeps running
// when the process that started it is killed. Its handle is
// "<host>:<attempt dir>", and at start the backend writes local-job.json
// ({host, pid, start_ticks}) into that directory; attach() reads it and
// follows the job through a pidfd, so a later process can wait for it or
// cancel it. The exit status of an attached job is not knowable (it is not
// our child): it is reported with exit_code -1 and the engine reads the
// job's result file.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"

namespace cadenza::backend_local {

struct LocalConfig {
  int max_jobs = 1;
  int cpus = 1;
  int gpus = 0;
  uint64_t mem_bytes = 0;
  double kill_grace_s = 10;
  bool echo = true;
};

// Parses the config JSON; throws sdk::PluginError naming the bad field.
LocalConfig parse_local_config(const std::string& config_json);

class LocalBackend : public sdk::Backend {
 public:
  ~LocalBackend() override;

  void configure(const std::string& config_json, sdk::BackendHost& host) override;
  bool handles_dependencies() const override { return false; }
  sdk::JobHandle submit(const sdk::JobRequest& request) override;
  void attach(const std::vector<sdk::JobHandle>& handles) override;
  std::vector<sdk::JobUpdate> wait(int timeout_ms) override;
  void cancel(const sdk::JobHandle& handle) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Job {
    sdk::JobHandle handle;
    sdk::JobRequest request;
    pid_t pid = -1;
    bool adopted = false;  // started by another process: not our child
    int pidfd = -1;
    int log_fd = -1;       // read side: tails the job's log for the terminal
    std::string partial_line;
    Clock::time_point started_at;
    bool cancel_requested = false;
    bool killed = false;
    bool timed_out = false;
    Clock::time_point kill_at;
    std::string cancel_reason;
  };

  bool fits(const sdk::Resources& r) const;
  void start_ready_jobs(std::vector<sdk::JobUpdate>& updates);
  void start(Job& job);
  void read_output(Job& job);
  void emit_line(Job& job, std::string_view line);
  void reap(Job& job, std::vector<sdk::JobUpdate>& updates);
  void enforce_deadlines();
  void close_fds(Job& job);

  LocalConfig config_;
  sdk::BackendHost* host_ = nullptr;
  uint64_t next_seq_ = 1;
  std::deque<Job> queued_;
  std::map<sdk::JobHandle, Job> running_;
  std::vector<sdk::JobUpdate> pending_updates_;
  int cpus_used_ = 0, gpus_used_ = 0;
  uint64_t mem_used_ = 0;
};

}  // namespace cadenza::backend_local
