// Which process is "the same process" across time, for run records.
//
// A pid alone is not an identity: after a crash the pid is reused by an
// unrelated process, and `kill(pid, 0)` would then call a dead run alive.
// A process is identified by its host, its pid and its start time in clock
// ticks since boot (/proc/<pid>/stat field 22), which no later process on the
// same boot shares. From another host nothing can be checked through /proc;
// callers fall back to a heartbeat file's age there (run_record.h).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cadenza {

struct ProcessIdentity {
  std::string host;
  int pid = 0;
  uint64_t start_ticks = 0;

  // This process.
  static ProcessIdentity self();
  // Another process on this host, if it exists now.
  static std::optional<ProcessIdentity> of_pid(int pid);

  bool on_this_host() const;
  // Alive: on this host, the pid exists with the same start time. Always
  // false for another host's process (use is_checkable() first).
  bool alive() const;
  bool is_checkable() const { return on_this_host(); }

  nlohmann::json to_json() const;
  static ProcessIdentity from_json(const nlohmann::json& j);  // throws on a malformed record
};

// This machine's host name.
const std::string& this_host();

}  // namespace cadenza
