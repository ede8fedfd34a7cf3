// backend_slurm: runs each stage as a SLURM batch job.
//
// submit: `sbatch --parsable <options> <run dir>/job.sbatch`, options from
// slurm_protocol.h, the whole DAG at once held with --dependency=afterok and
// --kill-on-invalid-dep=yes. The job writes its output to the attempt's log
// (--output, --open-mode=append), which this backend tails for the terminal.
//
// wait: finished jobs are known from the result file exec-stage writes on
// the shared file system (no SLURM call for them); for the others, one
// `squeue --states=all --jobs=<all of them>` per refresh, every poll_min_s
// while something changes, backing off to poll_max_s while nothing does; a
// job that left the queue without a result file is looked up once with
// `scontrol show job`. sacct is never used (clusters without slurmdbd exist).
//
// submit_array: one `sbatch --array=0-(n-1)` per chunk of at most the
// cluster's MaxArraySize tasks; task k picks its command by
// SLURM_ARRAY_TASK_ID. squeue is asked with --array, one line per task.
//
// cancel: collected and sent as one `scancel <ids...>` at the next wait().
// Handles are SLURM job ids, so attach() works from any login node.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"
#include "slurm_protocol.h"

namespace cadenza::backend_slurm {

class SlurmBackend : public sdk::Backend {
 public:
  ~SlurmBackend() override;
  void configure(const std::string& config_json, sdk::BackendHost& host) override;
  bool handles_dependencies() const override { return true; }
  sdk::JobHandle submit(const sdk::JobRequest& request) override;
  // One sbatch --array per MaxArraySize tasks; handles are "<job id>_<task>".
  std::vector<sdk::JobHandle> submit_array(const std::vector<sdk::JobRequest>& requests) override;
  void attach(const std::vector<sdk::JobHandle>& handles) override;
  std::vector<sdk::JobUpdate> wait(int timeout_ms) override;
  void cancel(const sdk::JobHandle& handle) override;

 private:
  struct Job {
    std::string id, name, log_path, run_dir;
    bool reported_running = false, ever_ran = false;
    int log_fd = -1;
    std::string partial_line;
  };
  void poll(std::vector<sdk::JobUpdate>& updates);
  bool finished_by_result(Job& job, std::vector<sdk::JobUpdate>& updates);
  void look_up_gone_job(Job& job, std::vector<sdk::JobUpdate>& updates);
  void tail_log(Job& job);
  void flush_cancels();
  size_t max_array_size();
  std::string sbatch(const std::vector<std::string>& args, const std::string& what);
  void track(const std::string& id, const sdk::JobRequest& request);
  std::vector<sdk::JobHandle> submit_chunk(const std::vector<sdk::JobRequest>& chunk, const SlurmConfig& config);

  SlurmConfig config_;
  sdk::BackendHost* host_ = nullptr;
  std::map<std::string, Job> jobs_;  // active, by id
  std::vector<std::string> cancels_;
  std::vector<sdk::JobUpdate> pending_;
  double next_poll_ = 0, interval_ = 0;
  size_t max_array_size_ = 0;  // from `scontrol show config`, asked once
};

}  // namespace cadenza::backend_slurm
