// The cache as one workspace sees it: stat cache, content store, run-cache
// and lock file, and the decision they make together for each stage.
//
// A stage's key is XXH3-128 over canonical JSON of: the plugin's name,
// declared version and library content hash (rebuilt model code reruns);
// the stage's resolved params (only the params its plugin declares); each
// dep's name, path and content hash (a directory's hash is over its sorted
// files' relative paths, sizes, modes and hashes, so equal trees hash
// equal); each out's name and path; and the container image, if set.
// Anything else (comments, other stages, the backend, resources) does not
// enter it.
//
// For a stage whose inputs are ready:
//   up to date   the lock has this key and every out on disk still has the
//                recorded hash: nothing to do;
//   restore      the run-cache has the key and the store has its objects:
//                the outs are restored, the stage does not run;
//   run          otherwise; reasons() says why, for `status` and --explain.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "content_store.h"
#include "lock_file.h"
#include "prepared_workflow.h"
#include "run_cache.h"
#include "stat_cache.h"

namespace cadenza {

struct StageFingerprint {
  Hash128 key;
  Hash128 plugin_hash;
  std::string image_id;  // image_identity() of its container image; empty: none
  std::map<std::string, LockedPath> deps;
};

class WorkspaceCache {
 public:
  explicit WorkspaceCache(const Workflow& wf);

  // Thread-safe, like reasons_to_run: a run evaluates ready stages in parallel.
  StageFingerprint fingerprint(const PreparedStage& stage);
  // What a container image is, for stage keys: "oci:sha256:<digest>" for a
  // reference, "file:<hash>" for a .sif or SquashFS file, "tree:<hash>" for a
  // directory image. Stat-cached like inputs, so a no-op re-hashes nothing.
  // Throws Error naming the image when it is missing or unreadable.
  std::string image_identity(const ContainerDecl& container);
  // Why the stage must run; empty when it is up to date.
  std::vector<std::string> reasons_to_run(const PreparedStage& stage, const StageFingerprint& fp);
  // The run-cache entry for the key, if it and all its objects exist.
  std::optional<RunRecord> cached_run(const Hash128& key) const;
  // Restores every out of `record` into the workspace. Throws Error.
  void restore(const PreparedStage& stage, const RunRecord& record);
  // Records a completed stage in the lock (and its outs in the stat cache).
  void record(const PreparedStage& stage, const StageFingerprint& fp,
              const std::map<std::string, StoredOutput>& outs, bool restored);
  // Saves the lock (atomically, fsync) and the stat cache; registers this
  // workspace's lock with the cache for gc.
  void save();
  // Saves the lock if the last save is older than `interval_s`, atomically
  // but without fsync (save() at the end syncs). A run calls this after each
  // stage: a crash loses at most that much of the lock, and the stages it
  // loses are still in the run-cache (restored, not rerun).
  void save_lock_throttled(double interval_s);

  const Workflow& workflow() const { return wf_; }
  ContentStore& store() { return store_; }
  const RunCache& runs() const { return runs_; }
  LockFile& lock() { return lock_; }
  StatCache& stats() { return stats_; }
  LinkMode link_mode() const { return link_mode_; }

  // Hash of a workspace path (file or directory) through the stat cache.
  StoredOutput hash_path(const std::string& abs_path);

 private:
  const Workflow& wf_;
  StatCache stats_;
  ContentStore store_;
  RunCache runs_;
  LockFile lock_;
  LinkMode link_mode_;
  double last_lock_save_ = 0;
  std::mutex plugin_mutex_;
  std::map<std::string, Hash128> plugin_hashes_;  // per run: a library is hashed once
};

// Records `lock_path` in <cache>/workspaces/ so that `cadenza gc` run from
// any workspace keeps what this one's lock needs.
void register_workspace(const std::string& cache_dir, const std::string& lock_path);
std::vector<std::string> registered_workspaces(const std::string& cache_dir);
// Forgets `lock_path` (a removed experiment): gc no longer keeps what it needs.
void unregister_workspace(const std::string& cache_dir, const std::string& lock_path);

}  // namespace cadenza
