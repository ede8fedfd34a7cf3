// Where a stage's outs are written: at the staging path the stage is given
// ({out:NAME}, StageContext::output), or at the out's own path, which is
// what a user's script does (DVC scripts write data/processed themselves).
//
// Before the stage runs, each out's previous contents are moved aside, so
// that a script that writes in place starts from nothing and never writes
// through a link into the cache. After it:
//   succeeded: what it wrote in place is taken as the out (moved to
//              staging, then stored and promoted like any out); the
//              previous contents go.
//   otherwise: whatever it left at the path goes and the previous complete
//              out comes back, so nothing half-written looks finished.
// A killed exec-stage leaves the previous contents next to the out as
// "<staging path>.prev"; the stage's next run removes them with the other
// staging leftovers (the lock's copy is in the cache).
#pragma once

#include <map>
#include <string>

#include "job_spec.h"

namespace cadenza {

class OutputPlaces {
 public:
  // `staging`: each out's staging path, by name. Neither is copied.
  OutputPlaces(const JobSpec& spec, const std::map<std::string, std::string>& staging);

  // Moves the previous contents of every out aside. Throws Error.
  void clear_for_run();
  // For each out the stage did not write at its staging path but did write
  // at its own path: moves it to the staging path. Throws Error.
  void adopt_written_in_place();
  // The stage did not succeed: removes what it left at each out's path and
  // puts the previous contents back. Never throws.
  void restore_previous();
  // The outs are in place: the previous contents go. Never throws.
  void drop_previous();

  // Files git tracks inside a directory out (logs/tensorboard/.gitkeep)
  // that the new out lacks are copied into it from git's index, so that
  // replacing the directory never deletes a committed file. Only in the
  // workspace itself (an experiment's outs are not in git); nothing happens
  // without git or outside a repository.
  void keep_git_tracked_files();

  // "<workspace>/<out path>"
  std::string final_path(const std::string& name) const;

 private:
  std::string previous_path(const std::string& name) const;

  const JobSpec& spec_;
  const std::map<std::string, std::string>& staging_;
};

}  // namespace cadenza
