// One live run per workspace (or experiment), checked where a run starts.
#pragma once

#include <string>

#include "run_lock.h"

namespace cadenza {

// The run lock of `state_dir`; a run whose driver lives on another host (its
// heartbeat is recent) counts as live too, since flock may not reach there.
// Throws Error naming the live run and what to do about it.
RunLock take_run_lock(const std::string& workflow_path, const std::string& state_dir,
                      const std::string& run_id);

}  // namespace cadenza
