// workflow.lock: what produced what, meant to be committed to git.
//
// JSON with sorted keys (stable diffs). For each stage: its key, the plugin
// identity (name, version, content hash of its library), the resolved
// params, each dep's path and hash, each out's path, hash, size and kind,
// and when it ran. Replaced atomically; a stage entry is updated when that
// stage completes, so a crash mid-run keeps every completed stage recorded.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "content_store.h"
#include "fs_util.h"
#include "hash.h"

namespace cadenza {

struct LockedPath {
  std::string path;
  Hash128 hash;
  uint64_t size = 0;
  bool is_dir = false;
};

struct LockEntry {
  Hash128 key;
  std::string plugin_name;
  std::string plugin_version;
  Hash128 plugin_hash;
  nlohmann::json params = nlohmann::json::object();
  std::map<std::string, LockedPath> deps;
  std::map<std::string, LockedPath> outs;
  std::string ran_at;  // ISO 8601, UTC
  bool restored = false;
  // The stage's container image: where it was ("as written") and what it was
  // (image_identity()); empty when the stage ran outside a container.
  std::string image;
  std::string image_id;
};

class LockFile {
 public:
  // Loads `path` if it exists. Throws Error naming the file if it is not a
  // lock file (a corrupt lock is not silently replaced: it is in git).
  explicit LockFile(std::string path);

  const std::map<std::string, LockEntry>& stages() const { return stages_; }
  const LockEntry* find(const std::string& stage) const;
  void set(const std::string& stage, LockEntry entry);
  // Writes the file atomically if anything changed; with kFsync also
  // durable against power loss.
  void save(Durability durability = Durability::kFsync);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, LockEntry> stages_;
  bool dirty_ = false;
};

std::string utc_now_iso8601();

}  // namespace cadenza
