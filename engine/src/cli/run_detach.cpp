#include "run_detach.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "error.h"
#include "fs_util.h"

extern char** environ;

namespace cadenza {

pid_t spawn_in_background(std::vector<std::string> args, const std::string& log,
                          const std::vector<std::string>& extra_env) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_store = extra_env;
  for (char** e = environ; *e; ++e) {
    bool replaced = false;
    for (const auto& x : extra_env) replaced = replaced || std::strncmp(*e, x.c_str(), x.find('=') + 1) == 0;
    if (!replaced) env_store.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw Error("cannot start the background driver: " + std::string(std::strerror(rc)));
  return pid;
}

int start_detached_driver(const std::vector<std::string>& driver_args, const std::string& state_dir,
                          const std::string& run_id, RunLock& lock) {
  const std::string run_dir = state_dir + "/runs/" + run_id;
  fs::create_directories(run_dir);
  const std::string log = run_dir + "/driver.log";
  const int lock_fd = lock.release_to_child();

  std::vector<std::string> args{current_executable().string(), "run"};
  args.insert(args.end(), driver_args.begin(), driver_args.end());
  args.insert(args.end(), {"--as-driver", run_id});
  const pid_t pid =
      spawn_in_background(args, log, {std::string(kRunLockFdVariable) + "=" + std::to_string(lock_fd)});

  // Return once the driver has recorded the run and made it the latest one
  // (so `status` and `cancel` from the next command see it), or report why
  // it did not. The driver writes run.json first and moves the link after.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  const auto recorded = [&] {
    std::error_code ec;
    return fs::exists(run_dir + "/run.json", ec) && fs::read_symlink(state_dir + "/runs/latest", ec) == run_id;
  };
  while (!recorded()) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      std::string text;
      try {
        text = read_file(log);
      } catch (const Error&) {
      }
      std::cerr << text;
      return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("the background driver (pid " + std::to_string(pid) + ") did not start the run; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cout << "cadenza: run " << run_id << " goes on in the background (driver pid " << pid
            << "; it outlives this terminal)\n"
            << "  watch:   cadenza status --watch\n"
            << "  follow:  cadenza run --attach\n"
            << "  logs:    cadenza logs -f <stage>\n"
            << "  cancel:  cadenza cancel <stage> | --all\n"
            << "  output:  " << log << "\n";
  return 0;
}

}  // namespace cadenza
