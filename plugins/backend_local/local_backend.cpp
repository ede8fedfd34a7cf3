#include "local_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/export.h"

extern char** environ;

namespace cadenza::backend_local {

namespace {

using nlohmann::json;

int count_gpus() {
  int n = 0;
  while (std::filesystem::exists("/dev/nvidia" + std::to_string(n))) ++n;
  return n;
}

uint64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

uint64_t parse_size(const json& v, const std::string& field) {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0))
    return v.get<uint64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    size_t used = 0;
    double n = 0;
    try {
      n = std::stod(s, &used);
    } catch (...) {
      used = 0;
    }
    std::string unit = s.substr(used);
    const std::map<std::string, double> scale{{"", 1}, {"K", 1024.0}, {"M", 1048576.0},
                                              {"G", 1073741824.0}, {"T", 1099511627776.0}};
    if (used > 0 && n >= 0 && scale.count(unit)) return static_cast<uint64_t>(n * scale.at(unit));
  }
  throw sdk::PluginError(field + " must be a size like \"16G\" or a number of bytes (got " +
                         v.dump() + ")");
}

int positive_int(const json& v, const std::string& field, int min) {
  if (!v.is_number_integer() || v.get<int64_t>() < min)
    throw sdk::PluginError(field + " must be an integer >= " + std::to_string(min) + " (got " +
                           v.dump() + ")");
  return static_cast<int>(v.get<int64_t>());
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

LocalConfig parse_local_config(const std::string& config_json) {
  json j;
  try {
    j = json::parse(config_json);
  } catch (const json::exception& e) {
    throw sdk::PluginError(std::string("backend_local: config is not JSON: ") + e.what());
  }
  LocalConfig c;
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  c.cpus = c.max_jobs = cores > 0 ? static_cast<int>(cores) : 1;
  c.gpus = count_gpus();
  c.mem_bytes = physical_memory();
  for (auto& [key, value] : j.items()) {
    if (key == "max_jobs") c.max_jobs = positive_int(value, "max_jobs", 1);
    else if (key == "cpus") c.cpus = positive_int(value, "cpus", 1);
    else if (key == "gpus") c.gpus = positive_int(value, "gpus", 0);
    else if (key == "mem") c.mem_bytes = parse_size(value, "mem");
    else if (key == "kill_grace_s") {
      if (!value.is_number() || value.get<double>() < 0)
        throw sdk::PluginError("kill_grace_s must be a number of seconds >= 0");
      c.kill_grace_s = value.get<double>();
    } else if (key == "echo") {
      if (!value.is_boolean()) throw sdk::PluginError("echo must be true or false");
      c.echo = value.get<bool>();
    } else {
      throw sdk::PluginError("unknown key '" + key +
                             "' (known: max_jobs, cpus, gpus, mem, kill_grace_s, echo)");
    }
  }
  return c;
}

LocalBackend::~LocalBackend() {
  // The orchestrator cancels and reaps jobs before it lets go of us; anything
  // still running here is killed rather than leaked.
  for (auto& [id, job] : running_) {
    ::kill(-job.pid, SIGKILL);
    ::waitpid(job.pid, nullptr, 0);
    close_fds(job);
  }
}

void LocalBackend::configure(const std::string& config_json, sdk::BackendHost& host) {
  config_ = parse_local_config(config_json);
  host_ = &host;
}

sdk::JobId LocalBackend::submit(const sdk::JobRequest& request) {
  if (request.argv.empty() || request.argv[0].empty() || request.argv[0][0] != '/')
    throw sdk::PluginError("job '" + request.name + "' has no absolute command path");
  if (request.resources.gpus > config_.gpus)
    throw sdk::PluginError("job '" + request.name + "' needs " +
                           std::to_string(request.resources.gpus) + " GPU(s) but this machine "
                           "offers " + std::to_string(config_.gpus) +
                           " (set [backends.local] gpus, or run it on another backend)");
  Job job;
  job.id = next_id_++;
  job.request = request;
  queued_.push_back(std::move(job));
  return queued_.back().id;
}

bool LocalBackend::fits(const sdk::Resources& r) const {
  if (static_cast<int>(running_.size()) >= config_.max_jobs) return false;
  // A job bigger than the machine runs alone rather than never.
  const int cpus = std::min(r.cpus, config_.cpus);
  const uint64_t mem = std::min(r.mem_bytes, config_.mem_bytes);
  return cpus_used_ + cpus <= config_.cpus && gpus_used_ + r.gpus <= config_.gpus &&
         mem_used_ + mem <= config_.mem_bytes;
}

void LocalBackend::start_ready_jobs(std::vector<sdk::JobUpdate>& updates) {
  for (auto it = queued_.begin(); it != queued_.end();) {
    if (!fits(it->request.resources)) {
      ++it;
      continue;
    }
    Job job = std::move(*it);
    it = queued_.erase(it);
    const sdk::Resources& r = job.request.resources;
    cpus_used_ += std::min(r.cpus, config_.cpus);
    gpus_used_ += r.gpus;
    mem_used_ += std::min(r.mem_bytes, config_.mem_bytes);
    const sdk::JobId id = job.id;
    auto& placed = running_.emplace(id, std::move(job)).first->second;
    try {
      start(placed);
      updates.push_back({id, sdk::JobState::kRunning, 0, 0, ""});
      if (r.cpus > config_.cpus)
        emit_line(placed, "note: asks for " + std::to_string(r.cpus) + " cpus; this backend has " +
                              std::to_string(config_.cpus));
    } catch (const std::exception& e) {
      cpus_used_ -= std::min(r.cpus, config_.cpus);
      gpus_used_ -= r.gpus;
      mem_used_ -= std::min(r.mem_bytes, config_.mem_bytes);
      close_fds(placed);
      running_.erase(id);
      updates.push_back({id, sdk::JobState::kFailed, 0, 0, e.what()});
    }
  }
}

void LocalBackend::start(Job& job) {
  const auto& req = job.request;
  std::filesystem::create_directories(std::filesystem::path(req.log_path).parent_path());
  job.log_fd = ::open(req.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (job.log_fd < 0)
    throw sdk::PluginError("cannot open log " + req.log_path + ": " + std::strerror(errno));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw sdk::PluginError(std::string("cannot create a pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addchdir_np(&actions, req.workdir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: terminal signals go to the orchestrator only, and
  // cancel can signal the job and everything it started at once.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  const std::string cpus = std::to_string(std::min(req.resources.cpus, config_.cpus));
  env_store.push_back("CADENZA_CPUS=" + cpus);
  if (!std::getenv("OMP_NUM_THREADS")) env_store.push_back("OMP_NUM_THREADS=" + cpus);
  // OpenMP threads that spin while waiting are 4-5x slower when another
  // process shares the cores (measured with LibTorch on 2 cores); libgomp
  // reads this when the stage's libraries load, so it must be set here.
  if (!std::getenv("OMP_WAIT_POLICY")) env_store.push_back("OMP_WAIT_POLICY=PASSIVE");
  std::vector<char*> envp, argv;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = req.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const int rc = ::posix_spawn(&job.pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw sdk::PluginError("cannot start " + req.argv[0] + " in " + req.workdir + ": " +
                           std::strerror(rc));
  }
  job.out_fd = pipe_fds[0];
  set_nonblocking(job.out_fd);
  job.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, job.pid, 0));
  job.started_at = Clock::now();
}

void LocalBackend::emit_line(Job& job, std::string_view line) {
  if (config_.echo && host_) host_->job_output(job.id, line);
}

void LocalBackend::read_output(Job& job, bool drain) {
  char buf[65536];
  while (job.out_fd >= 0) {
    const ssize_t n = ::read(job.out_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 || errno != EAGAIN) {
        ::close(job.out_fd);
        job.out_fd = -1;
      }
      break;
    }
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      const ssize_t w = ::write(job.log_fd, buf + off, static_cast<size_t>(n) - off);
      if (w <= 0) break;  // a full disk loses log text, never the job
      off += static_cast<size_t>(w);
    }
    job.partial_line.append(buf, static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = job.partial_line.find('\n', start)) != std::string::npos) {
      emit_line(job, std::string_view(job.partial_line).substr(start, nl - start));
      start = nl + 1;
    }
    job.partial_line.erase(0, start);
    if (job.partial_line.size() > 65536) {
      emit_line(job, job.partial_line);
      job.partial_line.clear();
    }
    if (!drain) break;
  }
}

void LocalBackend::close_fds(Job& job) {
  for (int* fd : {&job.pidfd, &job.out_fd, &job.log_fd})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

void LocalBackend::reap(Job& job, std::vector<sdk::JobUpdate>& updates) {
  int status = 0;
  if (::waitpid(job.pid, &status, WNOHANG) != job.pid) return;
  read_output(job, /*drain=*/true);
  if (!job.partial_line.empty()) emit_line(job, job.partial_line);
  job.partial_line.clear();
  sdk::JobUpdate u{job.id, sdk::JobState::kSucceeded, 0, 0, ""};
  if (WIFSIGNALED(status)) {
    u.signal = WTERMSIG(status);
    u.state = job.cancel_requested ? sdk::JobState::kCancelled : sdk::JobState::kFailed;
  } else {
    u.exit_code = WEXITSTATUS(status);
    if (u.exit_code != 0)
      u.state = job.cancel_requested ? sdk::JobState::kCancelled : sdk::JobState::kFailed;
  }
  if (u.state != sdk::JobState::kSucceeded) u.message = job.cancel_reason;
  // Stray grandchildren left in the job's group must not outlive it.
  ::kill(-job.pid, SIGKILL);
  updates.push_back(u);
}

void LocalBackend::enforce_deadlines() {
  const auto now = Clock::now();
  for (auto& [id, job] : running_) {
    const auto limit = job.request.resources.time_limit_s;
    if (!job.cancel_requested && !job.timed_out && limit > 0 &&
        now - job.started_at > std::chrono::seconds(limit)) {
      // A timeout is a failure, not a cancel: stop it the same way, report it as failed.
      job.timed_out = true;
      job.cancel_reason = "exceeded its time limit of " + std::to_string(limit) + " s";
      ::kill(-job.pid, SIGTERM);
      job.kill_at = now + std::chrono::milliseconds(static_cast<int64_t>(config_.kill_grace_s * 1000));
    }
    if (job.kill_at != Clock::time_point{} && !job.killed && now >= job.kill_at) {
      ::kill(-job.pid, SIGKILL);
      job.killed = true;
    }
  }
}

std::vector<sdk::JobUpdate> LocalBackend::wait(int timeout_ms) {
  std::vector<sdk::JobUpdate> updates = std::move(pending_updates_);
  pending_updates_.clear();
  start_ready_jobs(updates);
  if (running_.empty()) return updates;

  std::vector<pollfd> fds;
  std::vector<sdk::JobId> owner;
  for (auto& [id, job] : running_) {
    if (job.out_fd >= 0) {
      fds.push_back({job.out_fd, POLLIN, 0});
      owner.push_back(id);
    }
    if (job.pidfd >= 0) {
      fds.push_back({job.pidfd, POLLIN, 0});
      owner.push_back(id);
    }
  }
  // Wake at least every 100 ms for kill deadlines, time limits and, where
  // pidfds are unavailable, to reap children.
  const int wait_ms = updates.empty() ? std::min(timeout_ms, 100) : 0;
  const int ready = ::poll(fds.data(), fds.size(), wait_ms);
  if (ready > 0)
    for (size_t k = 0; k < fds.size(); ++k)
      if (fds[k].revents && fds[k].fd == running_.at(owner[k]).out_fd)
        read_output(running_.at(owner[k]), /*drain=*/false);
  for (auto it = running_.begin(); it != running_.end();) {
    const size_t before = updates.size();
    reap(it->second, updates);
    if (updates.size() == before) {
      ++it;
      continue;
    }
    const sdk::Resources& r = it->second.request.resources;
    cpus_used_ -= std::min(r.cpus, config_.cpus);
    gpus_used_ -= r.gpus;
    mem_used_ -= std::min(r.mem_bytes, config_.mem_bytes);
    close_fds(it->second);
    it = running_.erase(it);
  }
  enforce_deadlines();
  start_ready_jobs(updates);
  return updates;
}

void LocalBackend::cancel(sdk::JobId id) {
  for (auto it = queued_.begin(); it != queued_.end(); ++it)
    if (it->id == id) {
      queued_.erase(it);
      pending_updates_.push_back({id, sdk::JobState::kCancelled, 0, 0, "cancelled before start"});
      return;
    }
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Job& job = it->second;
  if (job.cancel_requested) {  // asked twice: no more grace
    ::kill(-job.pid, SIGKILL);
    job.killed = true;
    return;
  }
  job.cancel_requested = true;
  ::kill(-job.pid, SIGTERM);
  job.kill_at = Clock::now() + std::chrono::milliseconds(
                                   static_cast<int64_t>(config_.kill_grace_s * 1000));
}

}  // namespace cadenza::backend_local

CADENZA_BACKEND_PLUGIN(cadenza::backend_local::LocalBackend, "backend_local", "1.0.0",
                       "Runs stages as child processes on this machine, bounded by -j and "
                       "declared cpus/gpus/mem")
