// The user's command as a child process: started with its environment,
// waited for while the stage follows its metrics, and stopped as a whole
// tree (`sh -c` forks the script rather than exec'ing it).
//
// The child stays in exec-stage's process group, so a backend's cancel
// (SIGTERM to the job's group, SIGKILL after its grace) reaches the script
// directly and nothing outlives the job. That SIGTERM also ends `sh` at
// once while the script may be saving a checkpoint: exec-stage is made a
// child subreaper, so the script becomes its child and a stopping stage
// waits for it rather than for `sh`.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace cadenza::script {

class ScriptProcess {
 public:
  // Runs `shell -c cmd` with exactly `env`. With `capture_output`, its
  // stdout and stderr come through read_output() instead of going straight
  // to ours. Throws std::runtime_error if it cannot start.
  ScriptProcess(const std::string& shell, const std::string& cmd, const std::vector<std::string>& env,
                bool capture_output);
  ~ScriptProcess();  // kills what is left of the tree
  ScriptProcess(const ScriptProcess&) = delete;
  ScriptProcess& operator=(const ScriptProcess&) = delete;

  // Waits up to `timeout_ms` for the process to exit or to print; appends
  // what it printed to `output`. True once it has exited and, with
  // `whole_tree` (the stage is stopping), every process it started too.
  bool wait(int timeout_ms, std::string& output, bool whole_tree = false);
  // The wait status, once wait() returned true.
  int status() const { return status_; }
  // Sends `sig` to the process and every descendant (those it left behind
  // included: they are ours now).
  void signal_tree(int sig) const;

 private:
  void drain(std::string& output);
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;  // the shell
  bool tree_done_ = false;
  int status_ = 0;
};

}  // namespace cadenza::script
