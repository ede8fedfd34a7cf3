// `cadenza run --detach`: the run goes on in a background driver process and
// the command returns at once.
//
// The driver is this same binary, exec'd as `cadenza run ... --as-driver
// <run id>` in a new session (setsid: no controlling terminal, so logging
// out or closing the laptop's terminal sends it no SIGHUP), with its output
// in the run directory's driver.log. The workspace's run lock passes to it
// as an inherited descriptor, so no other run can slip in between.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "run_lock.h"

namespace cadenza {

// Starts the driver and waits until it has written the run record (or
// failed, whose output is then printed). `driver_args` are the `run`
// arguments to pass on. Returns the command's exit code.
int start_detached_driver(const std::vector<std::string>& driver_args, const std::string& state_dir,
                          const std::string& run_id, RunLock& lock);

// Starts `args` (argv[0] a path) in a new session with no terminal: stdin
// from /dev/null, stdout and stderr appended to `log`; `extra_env`
// ("NAME=value") added to or replacing this process's environment. Returns
// its pid. Throws Error.
pid_t spawn_in_background(std::vector<std::string> args, const std::string& log,
                          const std::vector<std::string>& extra_env = {});

// The environment variable that carries the lock's descriptor to the driver.
constexpr const char* kRunLockFdVariable = "CADENZA_RUN_LOCK_FD";

}  // namespace cadenza
