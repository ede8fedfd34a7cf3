// The run-cache: stage key -> the outputs that stage run produced.
//
//   <cache>/runs/ab/cdef….json   {"key", "stage", "plugin", "created", "outs":
//                                 {name: {"path", "hash", "size", "dir"}},
//                                 "metrics": {tag: {"last", "min", "max", "step"}}}
//
// An entry is written (atomically) only after every object it names is in
// the content store, so an entry that exists is complete; a process killed
// half-way leaves at most unreferenced objects, which gc removes.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "content_store.h"
#include "hash.h"

namespace cadenza {

struct RunRecord {
  Hash128 key;
  std::string stage;
  std::string plugin;
  double created = 0;                          // seconds since the epoch
  std::map<std::string, StoredOutput> outs;    // by out name
  std::map<std::string, std::string> paths;    // by out name: workspace path
  // What the run's metrics came to ({tag: {last, min, max, step}}), so that
  // an experiment restored from the cache still has its stage's numbers.
  nlohmann::json metrics = nlohmann::json::object();
};

class RunCache {
 public:
  RunCache(std::string cache_root, bool shared) : root_(std::move(cache_root)), shared_(shared) {}

  std::optional<RunRecord> find(const Hash128& key) const;
  void put(const RunRecord& record) const;
  std::string entry_path(const Hash128& key) const;
  // Every entry (for gc and push).
  std::vector<RunRecord> all() const;
  // Files under runs/ that are not a readable entry for the key their name
  // says (for `cache verify`): (path, why).
  std::vector<std::pair<std::string, std::string>> damaged() const;
  bool remove(const Hash128& key) const;

 private:
  std::string root_;
  bool shared_;
};


}  // namespace cadenza
