// An experiment's record, and the index that makes `exp show` fast.
//
//   .cadenza/exps/<name>/experiment.json   the whole record, rewritten
//                                          atomically at start and end
//   .cadenza/exps/index.jsonl              one summary line per write:
//                                          name, overrides, status, times,
//                                          metrics as [last, min, max]; the
//                                          last line of a name wins,
//                                          {"removed": true} ends it
//
// The index is an append-only log like the run's events.jsonl: concurrent
// experiments append whole lines, a torn last line is skipped, and `exp
// show` reads one file however many experiments there are.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cadenza {

constexpr int kExperimentRecordVersion = 1;

struct ExperimentRecord {
  std::string name;
  std::string workflow;        // absolute path of workflow.toml
  nlohmann::json overrides = nlohmann::json::object();  // {"train.hidden_size": 64}
  nlohmann::json params = nlohmann::json::object();     // {stage: effective params}
  std::string git_commit;      // empty: not in a git repository
  bool git_dirty = false;      // tracked files differed from the commit
  std::string status = "running";  // running, succeeded, failed, cancelled
  double started = 0, finished = 0;  // seconds since the epoch; finished 0 while running
  std::string run_id;
  nlohmann::json stages = nlohmann::json::object();   // {stage: {outcome, reused, backend, job, key}}
  nlohmann::json metrics = nlohmann::json::object();  // {tag: {last, min, max, step, stage}}

  double duration_s() const { return finished > started ? finished - started : 0; }
};

nlohmann::json to_json(const ExperimentRecord& r);
// Throws Error naming `source`.
ExperimentRecord experiment_from_json(nlohmann::json j, const std::string& source);

// Writes <root>/<name>/experiment.json and appends its summary to the index.
void save_experiment(const std::string& exps_root, const ExperimentRecord& r);
// nullopt when there is no such experiment. Throws Error on a damaged record.
std::optional<ExperimentRecord> load_experiment_record(const std::string& exps_root,
                                                       const std::string& name);
// Every experiment's latest summary (no params), in order of first appearance.
std::vector<ExperimentRecord> read_index(const std::string& exps_root);
// Ends `name` in the index (its directory is removed by the caller).
void mark_removed(const std::string& exps_root, const std::string& name);

// The commit of the git repository holding `dir` and whether tracked files
// differ from it; empty commit outside a repository or without git.
void describe_git(const std::string& dir, std::string* commit, bool* dirty);

}  // namespace cadenza
