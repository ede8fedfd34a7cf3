// A run is a record on disk, not a process. What a run leaves under
// .cadenza/runs/<run id>/ for any `cadenza` process, on any host that shares
// the file system, now or after the process that started it is gone:
//
//   run.json      {record_version, run_id, workflow, started, detached,
//                  driver: {host, pid, start_ticks}, stages: [selected, DAG order]}
//   events.jsonl  append-only, one JSON object per line, written as it happens:
//     {"t", "event": "submitted", "stage", "attempt", "backend", "handle", "dir"}
//     {"t", "event": "running",   "stage", "attempt", "node"}
//     {"t", "event": "finished",  "stage", "attempt", "outcome", "error", "reused", "retry"}
//     {"t", "event": "waiting_for", "stage", "handle", "from_run"}  (an earlier run's live job)
//     {"t", "event": "handed_off", "backend", "handle"}  (the driver left; job `handle` records the end)
//     {"t", "event": "detaching"}  (asked on Ctrl-C: a background driver takes the run over)
//     {"t", "event": "run_finished", "exit_code"}
//     {"t", "event": "superseded", "by_run"}  (a later run took over this dead one)
//   driver.alive  touched by the driver every few seconds (liveness seen from another host)
//   driver.log    the background driver's output (`run --detach`)
//   <stage>/      the first attempt's spec.json, log.txt, exec.json, progress.json,
//                 metrics.jsonl, result.json; attempt N > 1 in <stage>/attempt-N/
//   <stage>/cancel-requested, cancel-all   requests from `cadenza cancel`
//
// "outcome" is always an sdk::Outcome name (outcome.h); "reused" is
// "up_to_date" or "restored" for a stage that succeeded without running.
// Like ninja's logs, the event log tolerates a torn tail: a reader skips a
// line that does not parse, and a writer that finds the file not ending in a
// newline starts on a fresh line. Each event is one write(2) with O_APPEND.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cadenza/sdk/outcome.h"
#include "process_identity.h"

namespace cadenza {

constexpr int kRunRecordVersion = 2;

struct RunInfo {
  std::string run_id;
  std::string workflow;  // absolute path of workflow.toml
  double started = 0;
  bool detached = false;
  ProcessIdentity driver;
  std::vector<std::string> stages;
};

class RunRecorder {
 public:
  // Writes run.json and opens events.jsonl in `run_dir`. Throws Error.
  RunRecorder(std::string run_dir, const RunInfo& info);
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  void submitted(const std::string& stage, int attempt, const std::string& backend,
                 const std::string& handle, const std::string& dir);
  void running(const std::string& stage, int attempt, const std::string& node);
  // `reused`: "", "up_to_date" or "restored". `retry`: the retry note, if another attempt follows.
  void finished(const std::string& stage, int attempt, sdk::Outcome outcome,
                const std::string& error = "", const std::string& reused = "",
                const std::string& retry = "");
  void waiting_for(const std::string& stage, const std::string& handle, const std::string& from_run);
  void run_finished(int exit_code);
  // The driver leaves the run to its backend; job `handle` will record its end.
  void handed_off(const std::string& backend, const std::string& handle);
  // The driver leaves its live jobs to a background driver it starts now.
  void detaching();
  // Touches driver.alive at most every `interval_s`.
  void heartbeat(double interval_s = 2.0);

  // Appends one event to another run's log (a later run marking a dead one superseded).
  static void append_to(const std::string& run_dir, const std::string& json_line);

 private:
  void append(const std::string& line);
  std::string run_dir_;
  int fd_ = -1;
  double last_heartbeat_ = 0;
};

struct AttemptStatus {
  int attempt = 1;
  std::string backend, handle, dir, node, error, retry;
  std::optional<sdk::Outcome> outcome;
  double submitted = 0, started = 0, finished = 0;
};

struct StageStatus {
  // "waiting", "submitted", "running", or the final outcome's name.
  std::string state = "waiting";
  std::string reused;  // "up_to_date" / "restored" when it succeeded without running
  std::string error;
  double since = 0;    // when it entered that state
  std::vector<AttemptStatus> attempts;
  std::string waiting_for;  // handle of an earlier run's job it waits for
  bool active() const { return state == "waiting" || state == "submitted" || state == "running"; }
};

enum class DriverState {
  kAlive,     // its process exists (checked on this host)
  kRemote,    // on another host; its heartbeat is recent, so presumably alive
  kHandedOff, // left on purpose: the scheduler holds the jobs, a last job records the end
  kDead,      // gone without recording the end of the run
  kFinished,  // the run ended normally
};

struct RunStatus {
  RunInfo info;
  std::string run_dir;
  bool finished = false;
  int exit_code = 0;
  std::string superseded_by;
  std::string handed_off_to;  // the finishing job's handle, after the driver left
  bool detaching = false;     // its driver is handing the run to a background driver
  DriverState driver = DriverState::kDead;
  std::map<std::string, StageStatus> state;

  const std::string& run_id() const { return info.run_id; }
  bool alive() const { return driver == DriverState::kAlive || driver == DriverState::kRemote; }
};

// Reads the run `runs_dir`/latest (or `run_id`); nullopt if there is none.
std::optional<RunStatus> read_run(const std::string& runs_dir, const std::string& run_id = "latest");

// Whether the process running an attempt (its exec.json) is alive: nullopt
// when that cannot be told from here (no exec.json yet, another host).
std::optional<bool> attempt_process_alive(const AttemptStatus& attempt);

// The directory of a stage's attempt: <run>/<stage> for the first, <run>/<stage>/attempt-N after.
std::string attempt_dir(const std::string& run_dir, const std::string& stage, int attempt);

}  // namespace cadenza
