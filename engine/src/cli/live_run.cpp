#include "live_run.h"

#include "error.h"
#include "run_record.h"

namespace cadenza {

namespace {

[[noreturn]] void refuse_second_run(const std::string& workflow_path, const std::string& state_dir) {
  auto live = read_run(state_dir + "/runs");
  std::string who = "another cadenza process";
  if (live && !live->finished)
    who = "run " + live->run_id() + " (driver pid " + std::to_string(live->info.driver.pid) + " on " +
          live->info.driver.host + ")";
  throw Error(workflow_path + ": this workspace already has a live run, " + who +
              "; watch it with `cadenza status --watch`, follow it with `cadenza run --attach`, "
              "or stop it with `cadenza cancel --all`");
}

}  // namespace

RunLock take_run_lock(const std::string& workflow_path, const std::string& state_dir,
                      const std::string& run_id) {
  auto lock = RunLock::try_acquire(state_dir, run_id);
  if (!lock) refuse_second_run(workflow_path, state_dir);
  auto latest = read_run(state_dir + "/runs");
  if (latest && latest->driver == DriverState::kRemote) refuse_second_run(workflow_path, state_dir);
  return std::move(*lock);
}

}  // namespace cadenza
