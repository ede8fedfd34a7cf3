// What a run leaves under .cadenza/runs/<run id>/ for other terminals:
//   run.json       {run_id, pid, workflow, started, stages: [selected stage names]}
//   events.jsonl   one line per stage state change, appended as it happens:
//                  {"t": seconds, "stage": name, "state": "...", "error": "..."}
//                  and a last {"state": "finished", "exit_code": n}
//   <stage>/       spec.json, log.txt, progress.json, metrics.jsonl, result.json
//   <stage>/cancel-requested   written by `cadenza cancel <stage>`
//
// States: waiting, submitted, running, succeeded, up-to-date, restored,
// failed, cancelled, blocked (an upstream stage failed).
// Appending a line is one write(2) with O_APPEND: cheap enough per stage and
// never seen half-written by a reader that splits on newlines.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cadenza {

class RunRecorder {
 public:
  RunRecorder(std::string run_dir, std::string run_id, std::string workflow_file,
              std::vector<std::string> stages);
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  void stage(const std::string& name, const std::string& state, const std::string& error = "");
  void finished(int exit_code);

 private:
  void append(const std::string& line);
  int fd_ = -1;
};

struct StageStatus {
  std::string state = "waiting";
  std::string error;
  double since = 0;  // when it entered that state
};

struct RunStatus {
  std::string run_id;
  std::string run_dir;
  int pid = 0;
  double started = 0;
  bool finished = false;
  bool alive = false;  // the orchestrator process still exists
  int exit_code = 0;
  std::vector<std::string> stages;  // selected, in DAG order
  std::map<std::string, StageStatus> state;
};

// Reads the run `runs_dir`/latest (or `run_id`); nullopt if there is none.
std::optional<RunStatus> read_run(const std::string& runs_dir, const std::string& run_id = "latest");

}  // namespace cadenza
