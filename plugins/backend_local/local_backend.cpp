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
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/export.h"
#include "cadenza/sdk/units.h"

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
  if (v.is_string())
    if (auto bytes = sdk::parse_bytes(v.get<std::string>())) return *bytes;  // the engine's own rules
  throw sdk::PluginError(field + " must be a size like \"16G\" or a number of bytes (got " +
                         v.dump() + ")");
}

int positive_int(const json& v, const std::string& field, int min) {
  if (!v.is_number_integer() || v.get<int64_t>() < min)
    throw sdk::PluginError(field + " must be an integer >= " + std::to_string(min) + " (got " +
                           v.dump() + ")");
  return static_cast<int>(v.get<int64_t>());
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// Field 22 of /proc/<pid>/stat: the start time that tells a process apart
// from a later one that reuses its pid.
uint64_t start_ticks_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int k = 3; k <= 22; ++k)
    if (!(rest >> field)) return 0;
  return std::strtoull(field.c_str(), nullptr, 10);
}

constexpr const char* kJobFile = "/local-job.json";

sdk::JobUpdate update(const sdk::JobHandle& handle, sdk::JobState state,
                      sdk::Outcome outcome = sdk::Outcome::kSucceeded, std::string message = "") {
  sdk::JobUpdate u;
  u.handle = handle;
  u.state = state;
  u.outcome = outcome;
  u.node = host_name();
  u.message = std::move(message);
  return u;
}

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
  // The orchestrator cancels and waits for its jobs before it lets go of us;
  // what is still running here was adopted or deliberately left to run on
  // (a driver that is stopping without cancelling): it is left alone.
  for (auto& [handle, job] : running_) {
    if (!job.adopted) ::waitpid(job.pid, nullptr, WNOHANG);
    close_fds(job);
  }
}

void LocalBackend::configure(const std::string& config_json, sdk::BackendHost& host) {
  config_ = parse_local_config(config_json);
  host_ = &host;
}

sdk::JobHandle LocalBackend::submit(const sdk::JobRequest& request) {
  if (request.argv.empty() || request.argv[0].empty() || request.argv[0][0] != '/')
    throw sdk::PluginError("job '" + request.name + "' has no absolute command path");
  if (request.resources.gpus > config_.gpus)
    throw sdk::PluginError("job '" + request.name + "' needs " +
                           std::to_string(request.resources.gpus) + " GPU(s) but this machine "
                           "offers " + std::to_string(config_.gpus) +
                           " (set [backends.local] gpus, or run it on another backend)");
  Job job;
  // The attempt's directory is unique and durable: a handle another process can follow.
  job.handle = host_name() + ":" +
               (request.run_dir.empty() ? "job-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(next_seq_++)
                                        : request.run_dir);
  for (const auto& q : queued_)
    if (q.handle == job.handle) throw sdk::PluginError("job " + job.handle + " is already queued");
  job.request = request;
  queued_.push_back(std::move(job));
  return queued_.back().handle;
}

void LocalBackend::attach(const std::vector<sdk::JobHandle>& handles) {
  for (const auto& handle : handles) {
    const size_t colon = handle.find(':');
    if (colon == std::string::npos) throw sdk::PluginError("'" + handle + "' is not a backend_local job handle");
    const std::string host = handle.substr(0, colon), dir = handle.substr(colon + 1);
    if (host != host_name())
      throw sdk::PluginError("job " + handle + " runs on host " + host +
                             "; backend_local can follow it only from there");
    if (running_.count(handle)) continue;
    json j;
    try {
      std::ifstream in(dir + kJobFile);
      if (!in) {  // never started: it was queued in a process that is gone
        pending_updates_.push_back(update(handle, sdk::JobState::kFinished, sdk::Outcome::kNotRun,
                                          "it was still queued in a process that is gone"));
        continue;
      }
      j = json::parse(in);
    } catch (const std::exception& e) {
      throw sdk::PluginError("cannot read " + dir + kJobFile + ": " + e.what());
    }
    Job job;
    job.handle = handle;
    job.adopted = true;
    job.pid = j.at("pid").get<pid_t>();
    job.request.log_path = dir + "/log.txt";
    job.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, job.pid, 0));
    if (job.pidfd < 0 || start_ticks_of(job.pid) != j.at("start_ticks").get<uint64_t>()) {
      if (job.pidfd >= 0) ::close(job.pidfd);
      auto u = update(handle, sdk::JobState::kFinished, sdk::Outcome::kFailed, "exit status unknown");
      pending_updates_.push_back(u);
      continue;
    }
    job.log_fd = ::open(job.request.log_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (job.log_fd >= 0) ::lseek(job.log_fd, 0, SEEK_END);  // new output only
    job.started_at = Clock::now();
    pending_updates_.push_back(update(handle, sdk::JobState::kRunning));
    running_.emplace(handle, std::move(job));
  }
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
    const sdk::JobHandle handle = job.handle;
    auto& placed = running_.emplace(handle, std::move(job)).first->second;
    try {
      start(placed);
      updates.push_back(update(handle, sdk::JobState::kRunning));
      if (r.cpus > config_.cpus)
        emit_line(placed, "note: asks for " + std::to_string(r.cpus) + " cpus; this backend has " +
                              std::to_string(config_.cpus));
    } catch (const std::exception& e) {
      cpus_used_ -= std::min(r.cpus, config_.cpus);
      gpus_used_ -= r.gpus;
      mem_used_ -= std::min(r.mem_bytes, config_.mem_bytes);
      close_fds(placed);
      running_.erase(handle);
      updates.push_back(update(handle, sdk::JobState::kFinished, sdk::Outcome::kFailed, e.what()));
    }
  }
}

void LocalBackend::start(Job& job) {
  const auto& req = job.request;
  std::filesystem::create_directories(std::filesystem::path(req.log_path).parent_path());
  // The job writes its log itself: it must not depend on this process (a
  // pipe would kill it with SIGPIPE when we go away).
  const int out = ::open(req.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw sdk::PluginError("cannot open log " + req.log_path + ": " + std::strerror(errno));
  job.log_fd = ::open(req.log_path.c_str(), O_RDONLY | O_CLOEXEC);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, out, 2);
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
  sigaddset(&defaults, SIGUSR1);
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
  ::close(out);
  if (rc != 0)
    throw sdk::PluginError("cannot start " + req.argv[0] + " in " + req.workdir + ": " +
                           std::strerror(rc));
  job.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, job.pid, 0));
  job.started_at = Clock::now();
  if (!req.run_dir.empty()) {
    // For attach() from another process: which process runs this job.
    std::ofstream(req.run_dir + kJobFile)
        << json{{"host", host_name()}, {"pid", job.pid}, {"start_ticks", start_ticks_of(job.pid)}}.dump();
  }
}

void LocalBackend::emit_line(Job& job, std::string_view line) {
  if (config_.echo && host_) host_->job_output(job.handle, line);
}

// New bytes of the job's log, split into lines for the terminal.
void LocalBackend::read_output(Job& job) {
  char buf[65536];
  while (job.log_fd >= 0) {
    const ssize_t n = ::read(job.log_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
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
  }
}

void LocalBackend::close_fds(Job& job) {
  for (int* fd : {&job.pidfd, &job.log_fd})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

void LocalBackend::reap(Job& job, std::vector<sdk::JobUpdate>& updates) {
  sdk::JobUpdate u = update(job.handle, sdk::JobState::kFinished);
  if (job.adopted) {
    // Not our child: it is over when its pidfd is readable (or it is gone).
    pollfd p{job.pidfd, POLLIN, 0};
    if (job.pidfd >= 0 && ::poll(&p, 1, 0) == 0) return;
    u.outcome = sdk::Outcome::kFailed;  // unknown; the engine reads the result file
    u.message = "exit status unknown (started by an earlier process)";
  } else {
    int status = 0;
    if (::waitpid(job.pid, &status, WNOHANG) != job.pid) return;
    if (WIFSIGNALED(status)) u.signal = WTERMSIG(status);
    else u.exit_code = WEXITSTATUS(status);
    if (u.signal || u.exit_code != 0) u.outcome = sdk::Outcome::kFailed;
  }
  read_output(job);
  if (!job.partial_line.empty()) emit_line(job, job.partial_line);
  job.partial_line.clear();
  if (job.timed_out) u.outcome = sdk::Outcome::kTimedOut;
  else if (job.cancel_requested && u.outcome != sdk::Outcome::kSucceeded) u.outcome = sdk::Outcome::kCancelled;
  if (u.outcome != sdk::Outcome::kSucceeded && !job.cancel_reason.empty()) u.message = job.cancel_reason;
  // Stray grandchildren left in the job's group must not outlive it.
  ::kill(-job.pid, SIGKILL);
  updates.push_back(u);
}

void LocalBackend::enforce_deadlines() {
  const auto now = Clock::now();
  for (auto& [handle, job] : running_) {
    const auto limit = job.request.resources.time_limit_s;
    if (!job.cancel_requested && !job.timed_out && limit > 0 &&
        now - job.started_at > std::chrono::seconds(limit)) {
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
  for (auto& [handle, job] : running_)
    if (job.pidfd >= 0) fds.push_back({job.pidfd, POLLIN, 0});
  // Wake at least every 100 ms for log output, kill deadlines and time
  // limits (a log file, unlike a pipe, cannot be polled for new data).
  const int wait_ms = updates.empty() ? std::min(timeout_ms, 100) : 0;
  ::poll(fds.data(), fds.size(), wait_ms);
  for (auto it = running_.begin(); it != running_.end();) {
    read_output(it->second);
    const size_t before = updates.size();
    reap(it->second, updates);
    if (updates.size() == before) {
      ++it;
      continue;
    }
    if (!it->second.adopted) {
      const sdk::Resources& r = it->second.request.resources;
      cpus_used_ -= std::min(r.cpus, config_.cpus);
      gpus_used_ -= r.gpus;
      mem_used_ -= std::min(r.mem_bytes, config_.mem_bytes);
    }
    close_fds(it->second);
    it = running_.erase(it);
  }
  enforce_deadlines();
  start_ready_jobs(updates);
  return updates;
}

void LocalBackend::cancel(const sdk::JobHandle& handle) {
  for (auto it = queued_.begin(); it != queued_.end(); ++it)
    if (it->handle == handle) {
      queued_.erase(it);
      pending_updates_.push_back(update(handle, sdk::JobState::kFinished, sdk::Outcome::kNotRun,
                                        "cancelled before it started"));
      return;
    }
  auto it = running_.find(handle);
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

CADENZA_BACKEND_PLUGIN(cadenza::backend_local::LocalBackend, "backend_local", "2.0.0",
                       "Runs stages as child processes on this machine, bounded by -j and "
                       "declared cpus/gpus/mem; jobs outlive the process that started them")
