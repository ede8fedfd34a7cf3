// What backend_slurm says to SLURM and how it reads the answers, as pure
// functions (no processes), so that every option and every state is tested.
//
// Nothing here builds a shell string: sbatch gets an argv, and the batch
// script it runs holds one `exec` line whose words are single-quoted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cadenza/sdk/backend.h"

namespace cadenza::backend_slurm {

struct SlurmConfig {
  std::string partition, account, qos, constraint;
  std::vector<std::string> exclude;     // nodes never to use
  std::string gpu_option = "gres";      // "gres": --gres=gpu:N; "gpus": --gpus=N
  std::vector<std::string> extra_args;  // appended to every sbatch as they are
  // Environment passed from the submitting shell (sbatch --export=<these>);
  // nothing else is, so a job's environment does not depend on whatever the
  // login shell happened to hold. SLURM adds its own SLURM_* variables.
  std::vector<std::string> export_vars{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL",
                                       "TZ", "TMPDIR", "CADENZA_PLUGIN_PATH"};
  int array_max_running = 0;            // N > 0: --array=...%N (tasks running at once)
  bool requeue = false;                 // let SLURM requeue (default: Cadenza retries alone)
  double poll_min_s = 0.5, poll_max_s = 5.0;  // squeue interval, backing off while nothing changes
};

// Parses [backends.slurm] plus a stage's backend_config over it. Throws
// sdk::PluginError naming the bad key.
SlurmConfig parse_config(const std::string& config_json, const SlurmConfig& base = {});

// The batch script: `exec '<argv[0]>' '<argv[1]>' ...`.
std::string batch_script(const std::vector<std::string>& argv);
// 'text' with every ' written as '\'' : safe for any bytes but NUL.
std::string shell_quote(const std::string& text);

// The batch script of a job array: task k runs requests[k]'s command with
// its output appended to requests[k]'s log (tasks differ in spec and log).
std::string array_script(const std::vector<sdk::JobRequest>& requests);
// True if the requests can be one array: everything sbatch is told is alike,
// except `after`, which array_dependency() judges per chunk.
bool alike_for_array(const std::vector<sdk::JobRequest>& requests);
// The dependency of an array chunk: "afterok:..." when every task waits for
// the same jobs; "aftercorr:<array>..." when, position by position, task k
// waits for task k of one earlier array (the variants of a sweep, each held
// on its own upstream variant); "" for none; nullopt when neither holds and
// the chunk cannot be one array.
std::optional<std::string> array_dependency(const std::vector<sdk::JobRequest>& chunk);
// Chunks of at most `max_size` tasks (MaxArraySize), each indexed from 0.
std::vector<std::pair<size_t, size_t>> array_chunks(size_t count, size_t max_size);

// sbatch's options for one job (the script path comes last).
// `dependency`, when given, replaces the afterok built from request.after
// (an array's, from array_dependency()).
std::vector<std::string> sbatch_args(const sdk::JobRequest& request, const SlurmConfig& config,
                                     const std::string& script_path,
                                     const std::optional<std::string>& dependency = std::nullopt);

// "--time" in whole minutes, rounded up (SLURM's limits are minutes).
std::string slurm_minutes(int64_t seconds);
// "--mem" in MiB, rounded up.
std::string slurm_megabytes(uint64_t bytes);

// `sbatch --parsable` prints "<id>" or "<id>;<cluster>".
std::optional<std::string> parse_job_id(const std::string& sbatch_output);

// One line of `squeue --format=%i|%T|%N|%r|%S`.
struct QueueEntry {
  std::string id, state, nodes, reason;
  bool started = false;  // it was given nodes (%N), so it ran
};
std::map<std::string, QueueEntry> parse_squeue(const std::string& output);

// What a job's SLURM state means to the engine.
struct JobView {
  sdk::JobState state = sdk::JobState::kQueued;
  sdk::Outcome outcome = sdk::Outcome::kSucceeded;
  std::string message;
};
JobView view_of(const std::string& slurm_state, const std::string& reason, bool ever_ran);

// `scontrol show job -o <id>`: "Key=Value Key=Value ..." into a map.
std::map<std::string, std::string> parse_scontrol(const std::string& output);

}  // namespace cadenza::backend_slurm
