// sink_tensorboard's files for one experiment, laid out so that TensorBoard's
// HPARAMS tab tells the truth (see tensorboard-format facts in the README):
//
//   <logdir>/events.out.tfevents.0000000000.cadenza-experiment
//       `_hparams_/experiment`: every hparam and the chosen metric columns,
//       one file for the whole logdir, rebuilt from .cadenza-hparams.json
//       under a lock as experiments end.
//   <logdir>/<experiment>/events.out.tfevents.0000000000.cadenza-session
//       the experiment's one HParams session: its start (effective params)
//       and, once the run ended, its end with the real status. Rewritten
//       whole (rename) because TensorBoard keeps the first session info of
//       a run directory.
//   <logdir>/<experiment>/<stage>/
//       the scalars, text and audio of the stage run that made the
//       experiment's current outputs: a stage that runs again replaces them,
//       a stage restored from the cache gets its recorded last values.
//
// TensorBoard takes a session's metrics from the run directory of the
// session and its sub-directories, so each metric column is (group = stage,
// tag).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cadenza::tensorboard {

struct SinkPaths {
  std::string logdir;   // absolute
  std::string run_name; // the experiment's directory under logdir
  std::string session_dir() const { return logdir + "/" + run_name; }
  std::string stage_dir(const std::string& stage) const { return session_dir() + "/" + stage; }
};

// From [sinks.tensorboard] (logdir, run_name); throws PluginError naming
// the bad key.
SinkPaths sink_paths(const std::string& config_json, const std::string& workspace, const std::string& experiment);

// Removes the event files a stage run of this sink left in `dir` (before the
// stage runs again, or its restored values replace them).
void clear_event_files(const std::string& dir);

// The session file: started at `start`, ended (when `ended`) at `end` with
// `succeeded` or failure.
void write_session(const SinkPaths& paths, const nlohmann::json& hparams, double start, bool ended, double end,
                   bool succeeded);
// When the session started (from the session file's side record), or `fallback`.
double session_start(const SinkPaths& paths, double fallback);

// A restored stage's metrics ({tag: {last, step}}) as its run directory's only events.
void write_restored_stage(const SinkPaths& paths, const std::string& stage, const nlohmann::json& metrics);

// Merges this experiment's hparams and metric tags ({stage: [tag...]}) into
// the logdir's registry and rewrites the `_hparams_/experiment` file.
// `columns` are [experiments] metrics ("tag" or "stage:tag"); empty: all.
void update_experiment_summary(const SinkPaths& paths, const nlohmann::json& hparams,
                               const nlohmann::json& stage_tags, const nlohmann::json& columns);

}  // namespace cadenza::tensorboard
