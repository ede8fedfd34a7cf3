#include "slurm_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cadenza/sdk/error.h"
#include "cadenza/sdk/export.h"
#include "command.h"

namespace cadenza::backend_slurm {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

sdk::JobUpdate update(const std::string& id, sdk::JobState state, sdk::Outcome outcome,
                      std::string node = "", std::string message = "") {
  sdk::JobUpdate u;
  u.handle = id;
  u.state = state;
  u.outcome = outcome;
  u.node = std::move(node);
  u.message = std::move(message);
  return u;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// SLURM's answer for a job id it no longer (or never) knew.
bool unknown_job_error(const CommandResult& r) {
  return r.err.find("Invalid job id") != std::string::npos;
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

SlurmBackend::~SlurmBackend() {
  try {
    flush_cancels();
  } catch (const std::exception&) {
  }
  for (auto& [id, job] : jobs_)
    if (job.log_fd >= 0) ::close(job.log_fd);
}

void SlurmBackend::configure(const std::string& config_json, sdk::BackendHost& host) {
  config_ = parse_config(config_json);
  host_ = &host;
  interval_ = config_.poll_min_s;
}

std::string SlurmBackend::sbatch(const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv{"sbatch"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult r = run_command(argv);
  const auto id = r.ok() ? parse_job_id(r.out) : std::nullopt;
  if (!id) throw sdk::PluginError("sbatch refused " + what + ": " + trimmed(r.err.empty() ? r.out : r.err));
  next_poll_ = 0;  // look soon
  return *id;
}

void SlurmBackend::track(const std::string& id, const sdk::JobRequest& request) {
  Job job;
  job.id = id;
  job.name = request.name;
  job.log_path = request.log_path;
  job.run_dir = request.run_dir;
  jobs_[id] = std::move(job);
}

sdk::JobHandle SlurmBackend::submit(const sdk::JobRequest& request) {
  const SlurmConfig config = parse_config(request.backend_config_json, config_);
  if (request.run_dir.empty()) throw sdk::PluginError("job '" + request.name + "' has no run directory");
  const std::string script = request.run_dir + "/job.sbatch";
  {
    std::ofstream out(script, std::ios::trunc);
    out << batch_script(request.argv);
    if (!out) throw sdk::PluginError("cannot write " + script);
  }
  const std::string id = sbatch(sbatch_args(request, config, script), "job '" + request.name + "'");
  track(id, request);
  return id;
}

size_t SlurmBackend::max_array_size() {
  if (max_array_size_ > 0) return max_array_size_;
  max_array_size_ = 1001;  // SLURM's default
  const CommandResult r = run_command({"scontrol", "show", "config"});
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("MaxArraySize", 0) == 0) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) max_array_size_ = std::max<size_t>(1, std::strtoul(line.c_str() + eq + 1, nullptr, 10));
    }
  return max_array_size_;
}

std::vector<sdk::JobHandle> SlurmBackend::submit_array(const std::vector<sdk::JobRequest>& requests) {
  if (requests.size() < 2 || !alike_for_array(requests)) return Backend::submit_array(requests);
  const SlurmConfig config = parse_config(requests.front().backend_config_json, config_);
  std::vector<sdk::JobHandle> handles;
  try {
    for (const auto& [first, size] : array_chunks(requests.size(), max_array_size())) {
      const std::vector<sdk::JobRequest> chunk(requests.begin() + static_cast<long>(first),
                                               requests.begin() + static_cast<long>(first + size));
      const std::vector<sdk::JobHandle> queued = submit_chunk(chunk, config);
      handles.insert(handles.end(), queued.begin(), queued.end());
    }
  } catch (...) {
    // The caller gets no handle for any of them: what is queued already
    // would run unwatched, so it goes.
    if (!handles.empty()) {
      std::vector<std::string> argv{"scancel"};
      argv.insert(argv.end(), handles.begin(), handles.end());
      run_command(argv);
      for (const auto& h : handles) jobs_.erase(h);
    }
    throw;
  }
  return handles;
}

// One chunk (at most MaxArraySize tasks): one sbatch --array, or, for tasks
// held on unrelated jobs, one sbatch each.
std::vector<sdk::JobHandle> SlurmBackend::submit_chunk(const std::vector<sdk::JobRequest>& chunk,
                                                       const SlurmConfig& config) {
  std::vector<sdk::JobHandle> handles;
  const std::optional<std::string> dependency = array_dependency(chunk);
  if (!dependency || chunk.size() < 2) {
    for (const auto& r : chunk) handles.push_back(submit(r));
    return handles;
  }
  const std::string script = chunk.front().run_dir + "/array.sbatch";
  {
    std::ofstream out(script, std::ios::trunc);
    out << array_script(chunk);
    if (!out) throw sdk::PluginError("cannot write " + script);
  }
  sdk::JobRequest shared = chunk.front();
  shared.log_path = "/dev/null";  // each task appends to its own log (array_script)
  std::vector<std::string> args = sbatch_args(shared, config, script, dependency);
  std::string range = "--array=0-" + std::to_string(chunk.size() - 1);
  if (config.array_max_running > 0) range += "%" + std::to_string(config.array_max_running);
  args.insert(args.begin() + 1, range);
  const std::string id = sbatch(args, "an array of " + std::to_string(chunk.size()) + " '" + shared.name + "' jobs");
  for (size_t k = 0; k < chunk.size(); ++k) {
    handles.push_back(id + "_" + std::to_string(k));
    track(handles.back(), chunk[k]);
  }
  return handles;
}

void SlurmBackend::attach(const std::vector<sdk::JobHandle>& handles) {
  for (const auto& id : handles) {
    if (!parse_job_id(id)) throw sdk::PluginError("'" + id + "' is not a SLURM job id");
    if (jobs_.count(id)) continue;
    Job job;
    job.id = id;
    const CommandResult r = run_command({"scontrol", "show", "job", "-o", id});
    if (r.ok()) {
      const auto f = parse_scontrol(r.out);
      job.name = f.count("JobName") ? f.at("JobName") : id;
      if (f.count("StdOut")) job.log_path = f.at("StdOut");
      job.run_dir = parent_of(job.log_path);
    }
    jobs_[id] = std::move(job);  // unknown to SLURM: the next poll reports it finished
  }
  next_poll_ = 0;
}

void SlurmBackend::cancel(const sdk::JobHandle& handle) {
  if (jobs_.count(handle)) cancels_.push_back(handle);
}

void SlurmBackend::flush_cancels() {
  if (cancels_.empty()) return;
  std::vector<std::string> argv{"scancel"};
  argv.insert(argv.end(), cancels_.begin(), cancels_.end());
  cancels_.clear();
  run_command(argv);  // a job that already ended is no error of ours
  next_poll_ = 0;
}

void SlurmBackend::tail_log(Job& job) {
  if (job.log_fd < 0 && !job.log_path.empty()) job.log_fd = ::open(job.log_path.c_str(), O_RDONLY | O_CLOEXEC);
  char buf[65536];
  ssize_t n;
  while (job.log_fd >= 0 && (n = ::read(job.log_fd, buf, sizeof buf)) > 0) {
    job.partial_line.append(buf, static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = job.partial_line.find('\n', start)) != std::string::npos) {
      host_->job_output(job.id, std::string_view(job.partial_line).substr(start, nl - start));
      start = nl + 1;
    }
    job.partial_line.erase(0, start);
  }
}

// exec-stage writes result.json on the shared file system as its last act:
// a job that has one is over, and SLURM need not be asked. A "preempted"
// result may belong to a job SLURM has requeued: ask the queue about those.
bool SlurmBackend::finished_by_result(Job& job, std::vector<sdk::JobUpdate>& updates) {
  if (job.run_dir.empty()) return false;
  std::ifstream in(job.run_dir + "/result.json");
  if (!in) return false;
  std::string outcome;
  try {
    outcome = nlohmann::json::parse(in).at("outcome").get<std::string>();
  } catch (const std::exception&) {
    return false;  // being written
  }
  if (outcome == "preempted") return false;
  // The engine reads the result file for how it ended.
  updates.push_back(update(job.id, sdk::JobState::kFinished,
                           outcome == "succeeded" ? sdk::Outcome::kSucceeded : sdk::Outcome::kFailed));
  if (outcome == "succeeded") updates.back().exit_code = 0;
  return true;
}

void SlurmBackend::look_up_gone_job(Job& job, std::vector<sdk::JobUpdate>& updates) {
  const CommandResult r = run_command({"scontrol", "show", "job", "-o", job.id});
  if (!r.ok() && !unknown_job_error(r)) return;  // transient: ask again at the next poll
  if (!r.ok()) {
    updates.push_back(update(job.id, sdk::JobState::kFinished, sdk::Outcome::kFailed, "",
                             "job " + job.id + " left the queue without a result file, and SLURM "
                             "no longer knows it"));
    return;
  }
  const auto f = parse_scontrol(r.out);
  const std::string state = f.count("JobState") ? f.at("JobState") : "";
  const bool ran = job.ever_ran || (f.count("StartTime") && f.at("StartTime") != "Unknown" &&
                                    f.count("RunTime") && f.at("RunTime") != "00:00:00");
  const JobView v = view_of(state, f.count("Reason") ? f.at("Reason") : "", ran);
  if (v.state != sdk::JobState::kFinished) return;
  updates.push_back(update(job.id, v.state, v.outcome, f.count("NodeList") ? f.at("NodeList") : "",
                           v.message));
}

void SlurmBackend::poll(std::vector<sdk::JobUpdate>& updates) {
  const size_t before = updates.size();
  std::vector<std::string> ask;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    tail_log(it->second);
    if (finished_by_result(it->second, updates)) {
      if (it->second.log_fd >= 0) ::close(it->second.log_fd);
      it = jobs_.erase(it);
    } else {
      ask.push_back((it++)->first);
    }
  }
  if (!ask.empty()) {
    std::set<std::string> bases;  // an array task "12_3" is listed under job 12
    for (const auto& id : ask) bases.insert(id.substr(0, id.find('_')));
    std::string ids;
    for (const auto& id : bases) ids += (ids.empty() ? "" : ",") + id;
    const CommandResult r = run_command({"squeue", "--noheader", "--array", "--states=all",
                                         "--jobs=" + ids, "--format=%i|%T|%N|%r|%S"});
    // squeue fails outright when none of the ids is known any more; any
    // other failure (slurmctld busy, a timeout) says nothing: ask again later.
    if (!r.ok() && !unknown_job_error(r)) {
      next_poll_ = now_s() + interval_;
      return;
    }
    const auto queue = r.ok() ? parse_squeue(r.out) : std::map<std::string, QueueEntry>{};
    for (const auto& id : ask) {
      Job& job = jobs_.at(id);
      auto e = queue.find(id);
      if (e == queue.end()) {
        look_up_gone_job(job, updates);
        continue;
      }
      const JobView v = view_of(e->second.state, e->second.reason, job.ever_ran || e->second.started);
      if (v.state == sdk::JobState::kRunning && !job.reported_running) {
        job.reported_running = job.ever_ran = true;
        updates.push_back(update(id, v.state, v.outcome, e->second.nodes));
      } else if (v.state == sdk::JobState::kFinished) {
        updates.push_back(update(id, v.state, v.outcome, e->second.nodes, v.message));
      }
    }
    for (size_t k = before; k < updates.size(); ++k)
      if (updates[k].state == sdk::JobState::kFinished && jobs_.count(updates[k].handle)) {
        tail_log(jobs_.at(updates[k].handle));
        if (jobs_.at(updates[k].handle).log_fd >= 0) ::close(jobs_.at(updates[k].handle).log_fd);
        jobs_.erase(updates[k].handle);
      }
  }
  // Back off while nothing changes: a queue of 1000 waiting jobs costs one
  // squeue every poll_max_s, not a storm.
  interval_ = updates.size() > before ? config_.poll_min_s : std::min(interval_ * 2, config_.poll_max_s);
  next_poll_ = now_s() + interval_;
}

std::vector<sdk::JobUpdate> SlurmBackend::wait(int timeout_ms) {
  flush_cancels();
  std::vector<sdk::JobUpdate> updates = std::move(pending_);
  pending_.clear();
  const double deadline = now_s() + timeout_ms / 1000.0;
  while (updates.empty()) {
    for (auto& [id, job] : jobs_) tail_log(job);
    if (jobs_.empty()) break;
    if (now_s() >= next_poll_) {
      poll(updates);
      break;
    }
    if (now_s() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(
        static_cast<int>(1000 * std::min({next_poll_ - now_s(), deadline - now_s(), 0.1}) + 1)));
  }
  return updates;
}

}  // namespace cadenza::backend_slurm

CADENZA_BACKEND_PLUGIN(cadenza::backend_slurm::SlurmBackend, "backend_slurm", "0.1.0",
                       "Runs stages as SLURM batch jobs: afterok chains, one squeue per refresh, "
                       "result files on the shared file system, scancel")
