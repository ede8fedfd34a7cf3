#include "live_run.h"

#include <chrono>
#include <thread>

#include "error.h"
#include "fs_util.h"
#include "run_record.h"

namespace cadenza {

namespace {

// The run id the lock holder wrote into run.lock (run_lock.h); empty if
// none. It writes it just after taking the lock: give it a moment.
std::string lock_holder(const std::string& state_dir) {
  for (int tries = 0; tries < 20; ++tries) {
    try {
      std::string text = read_file(state_dir + "/run.lock");
      if (!text.empty() && text.back() == '\n') return text.substr(0, text.size() - 1);
    } catch (const Error&) {
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "";
}

[[noreturn]] void refuse_second_run(const std::string& workflow_path, const std::string& state_dir) {
  const std::string holder = lock_holder(state_dir);
  auto live = holder.empty() ? read_run(state_dir + "/runs") : read_run(state_dir + "/runs", holder);
  std::string who = "another cadenza process";
  if (live && !live->finished)
    who = "run " + live->run_id() + " (driver pid " + std::to_string(live->info.driver.pid) + " on " +
          live->info.driver.host + ")";
  else if (!holder.empty() && !live)
    who = "run " + holder + " (just starting)";
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
