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
  sdk::JobId submit(const sdk::JobRequest& request) override;
  std::vector<sdk::JobUpdate> wait(int timeout_ms) override;
  void cancel(sdk::JobId id) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Job {
    sdk::JobId id = 0;
    sdk::JobRequest request;
    pid_t pid = -1;
    int pidfd = -1;
    int out_fd = -1;
    int log_fd = -1;
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
  void read_output(Job& job, bool drain);
  void emit_line(Job& job, std::string_view line);
  void reap(Job& job, std::vector<sdk::JobUpdate>& updates);
  void enforce_deadlines();
  void close_fds(Job& job);

  LocalConfig config_;
  sdk::BackendHost* host_ = nullptr;
  sdk::JobId next_id_ = 1;
  std::deque<Job> queued_;
  std::map<sdk::JobId, Job> running_;
  std::vector<sdk::JobUpdate> pending_updates_;
  int cpus_used_ = 0, gpus_used_ = 0;
  uint64_t mem_used_ = 0;
};

}  // namespace cadenza::backend_local
